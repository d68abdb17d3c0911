"""``redis://host:port/db`` (and ``rediss://``): limits shared by every process and machine.

One check is one round trip: a Lua script reads the TAT of every named limit and the
credit counter, decides all or nothing, and writes only if the request is admitted.
Redis runs a script atomically, so N engines sharing a Redis never admit more than one
engine would. The script is loaded once and called by its SHA (``EVALSHA``); after a
Redis restart or ``SCRIPT FLUSH`` the client loads it again on ``NOSCRIPT``.

Time comes from the caller (``now``), not from Redis ``TIME``, so that both backends
behave alike and tests and replays control the clock. Machines sharing a Redis must
therefore keep their clocks in sync (NTP): a machine whose clock runs δ seconds ahead of
the others may admit up to ``rate × δ`` more than the limit.

Keys are ``<prefix>{<key id>}:rate:<limit name>`` (a TAT in microseconds) and
``<prefix>{<key id>}:usage:<period>`` (credits used); the braces keep all of a key's
state in one Redis Cluster slot. Every key expires (``PX``) once it no longer matters,
plus a second's slack for clocks, so idle keys cost no memory.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError
from redis.retry import Retry

from policyengine.errors import ConfigError, StorageError
from policyengine.limits.base import SteppingLimiter, register_scheme
from policyengine.limits.gcra import MICROS, gcra_params
from policyengine.limits.outcome import NO_LIMITS, LimitOutcome, evaluate
from policyengine.limits.usage import current_period
from policyengine.policy.model import RateLimit
from policyengine.record import Usage
from policyengine.redaction import RedactedUrl
from policyengine.units import Rate

DEFAULT_PREFIX = "policyengine:limits:"
#: Milliseconds a key outlives the instant it stops mattering, for clock skew.
SLACK_MS = 1000

# KEYS: the TAT of each of n limits, then the credit counter if there is one.
# ARGV: now (µs); 1 to consume, 0 to look; then interval and capacity (µs) of each limit;
# then, with credits, the credits and the counter's lifetime in ms (0: forever). With the
# keys in pairs of arguments, #ARGV = 2 + 2 × #KEYS says nothing of which key counts
# credits: the script is told by the second argument, 2 or 3 instead of 0 or 1.
# Returns: 1 if admitted (and written) else 0, the TATs read (0 when absent), and the
# credits used if counted.
# Numbers are written with %d: Lua's tostring keeps only 14 significant digits.
ACQUIRE = """
local now = tonumber(ARGV[1])
local mode = tonumber(ARGV[2])
local counted = mode >= 2
local n = #KEYS
if counted then n = n - 1 end
local reply = {0}
local ok = true
for i = 1, n do
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  reply[i + 1] = tat
  local start = math.max(tat, now)
  if start + tonumber(ARGV[1 + 2 * i]) - now > tonumber(ARGV[2 + 2 * i]) then ok = false end
end
local used = 0
if counted then
  used = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
  reply[n + 2] = used
  if used >= tonumber(ARGV[3 + 2 * n]) then ok = false end
end
if ok and mode % 2 == 1 then
  reply[1] = 1
  for i = 1, n do
    local tat = math.max(reply[i + 1], now) + tonumber(ARGV[1 + 2 * i])
    local ttl = math.ceil((tat - now) / 1000) + SLACK
    redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', string.format('%d', ttl))
  end
  if counted then
    redis.call('INCR', KEYS[n + 1])
    local ttl = tonumber(ARGV[4 + 2 * n])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[n + 1], string.format('%d', ttl)) end
  end
end
return reply
""".replace("SLACK", str(SLACK_MS))
#: The script as Redis caches it: ``EVALSHA`` names it by this.
ACQUIRE_SHA = hashlib.sha1(ACQUIRE.encode(), usedforsecurity=False).hexdigest().encode()


@register_scheme("redis", "rediss")
class RedisLimiter(SteppingLimiter):
    """Thread-safe; timeouts are short so an outage fails fast.

    A check is one ``EVALSHA``, packed here and written to a connection of the limiter's
    own (made by redis-py from the URL, so TLS, passwords and the database number are
    handled there), its reply read by redis-py's parser: none of a command's dispatch
    through the client. A connection is reused only after a whole reply was read; any
    error discards it.
    """

    def __init__(self, url: str, *, prefix: str = DEFAULT_PREFIX, timeout: float = 0.25) -> None:
        self._where = RedactedUrl(url)
        database = urlsplit(url).path.strip("/")
        if database and not database.isdigit():
            # redis-py would quietly use database 0.
            raise ConfigError(
                f"invalid limiter URL {self._where.shown!r}: the database must be a number, "
                "as in redis://localhost:6379/0"
            )
        try:
            self._client: redis.Redis = redis.Redis.from_url(
                url,
                socket_timeout=timeout,
                socket_connect_timeout=timeout,
                # One immediate retry on a broken connection (a pooled socket that Redis
                # closed); none on a timeout, so a hung server costs one timeout only. A
                # retried script may count a request twice: stricter, never looser.
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
            )
        except (ValueError, TypeError) as error:
            raise ConfigError(
                f"invalid limiter URL {self._where.shown!r}: {self._where.scrub(error)}"
            ) from None
        self._prefix = prefix
        pool = self._client.connection_pool
        self._connection_class = pool.connection_class
        self._connection_options = pool.connection_kwargs
        # Idle connections; ``pop`` and ``append`` are atomic, so threads share it freely.
        self._idle: list[Any] = []
        self._pid = os.getpid()

    def reset(self, key_id: str) -> None:
        pattern = _glob_escape(f"{self._prefix}{{{key_id}}}:") + "*"
        try:
            stale = list(self._client.scan_iter(match=pattern, count=1000))
            if stale:
                self._client.delete(*stale)
        except RedisError as error:
            raise StorageError(f"rate-limit store failed: {self._where.scrub(error)}") from None

    def close(self) -> None:
        while self._idle:
            self._idle.pop().disconnect()
        self._client.close()

    def _step(
        self,
        key_id: str,
        limits: Sequence[RateLimit],
        usage: Usage | None,
        now: float,
        consume: bool,
    ) -> LimitOutcome:
        if not limits and usage is None:
            return NO_LIMITS
        at = round(now * MICROS)
        base = f"{self._prefix}{{{key_id}}}:".encode()
        keys = [base + _rate_key(limit) for limit in limits]
        args = [b"%d" % at, b"1" if consume else b"0"]
        for limit in limits:
            args += _rate_args(limit.rate)
        period = None
        if usage is not None:
            period = current_period(usage.refill, at)
            keys.append(base + b"usage:" + period.id.encode())
            lifetime = 0 if period.end is None else -(-(period.end - at) // 1000) + SLACK_MS
            args[1] = b"3" if consume else b"2"
            args += (b"%d" % usage.credits, b"%d" % lifetime)
        try:
            reply = self._run(keys, args)
        except RedisError as error:
            raise StorageError(f"rate-limit store failed: {self._where.scrub(error)}") from None
        try:
            admitted, *tats = (int(value) for value in reply)
        except (TypeError, ValueError) as error:
            raise StorageError(f"rate-limit store answered {reply!r}: {error}") from error
        if len(tats) != len(limits) + (usage is not None):
            raise StorageError(f"rate-limit store answered {reply!r} for {len(limits)} limits")
        used = tats.pop() if usage is not None else 0
        outcome, advanced = evaluate(limits, tats, usage, period, used, at, consume)
        if (advanced is not None) != bool(admitted):
            # The script and the evaluator do the same integer arithmetic on the same
            # state, so only a bug can part them; deny rather than guess.
            raise StorageError("rate-limit script and evaluator disagree")
        return outcome

    def _run(self, keys: list[bytes], args: list[bytes]) -> Any:
        """The script's reply: ``EVALSHA``, or ``EVAL`` once if Redis has forgotten it
        (a restart, ``SCRIPT FLUSH``), which caches it again."""
        tail = [b"%d" % len(keys), *keys, *args]
        try:
            return self._send(_command(b"EVALSHA", ACQUIRE_SHA, *tail))
        except NoScriptError:
            return self._send(_command(b"EVAL", ACQUIRE.encode(), *tail))

    def _send(self, command: bytes) -> Any:
        if self._pid != os.getpid():
            # A forked child must not share its parent's sockets.
            self._idle = []
            self._pid = os.getpid()
        idle = self._idle
        for attempt in (1, 2):
            try:
                connection = idle.pop()
            except IndexError:
                connection = self._connection_class(**self._connection_options)
            try:
                connection.send_packed_command((command,), check_health=False)
                reply = connection.read_response()
            except RedisConnectionError:
                # Most often a pooled socket that Redis closed: one more try, on a new one.
                connection.disconnect()
                if attempt == 2:
                    raise
                continue
            except BaseException:
                connection.disconnect()
                raise
            idle.append(connection)
            return reply
        raise AssertionError("unreachable")  # pragma: no cover


def _command(*parts: bytes) -> bytes:
    """A command in RESP, as Redis reads it: an array of bulk strings."""
    return b"*%d\r\n" % len(parts) + b"".join(
        b"$%d\r\n%s\r\n" % (len(part), part) for part in parts
    )


#: ``id(limit)`` → the limit, the tail of its key (``rate:<name>``) and its script
#: arguments; by identity, as :func:`~policyengine.limits.gcra.gcra_params` does.
_KEYS: dict[int, tuple[RateLimit, bytes]] = {}
_ARGS: dict[int, tuple[Rate, tuple[bytes, bytes]]] = {}
_MAX_CACHED = 4096


def _rate_key(limit: RateLimit) -> bytes:
    found = _KEYS.get(id(limit))
    if found is None or found[0] is not limit:
        if len(_KEYS) >= _MAX_CACHED:
            _KEYS.clear()
        found = _KEYS[id(limit)] = (limit, f"rate:{limit.name}".encode())
    return found[1]


def _rate_args(rate: Rate) -> tuple[bytes, bytes]:
    found = _ARGS.get(id(rate))
    if found is None or found[0] is not rate:
        interval, capacity = gcra_params(rate)
        if len(_ARGS) >= _MAX_CACHED:
            _ARGS.clear()
        found = _ARGS[id(rate)] = (rate, (b"%d" % interval, b"%d" % capacity))
    return found[1]


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
