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

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.retry import Retry

from policyengine.errors import ConfigError, StorageError
from policyengine.limits.base import SteppingLimiter, register_scheme
from policyengine.limits.gcra import MICROS, gcra_params
from policyengine.limits.outcome import NO_LIMITS, LimitOutcome, evaluate
from policyengine.limits.usage import current_period
from policyengine.policy.model import RateLimit
from policyengine.record import Usage
from policyengine.redaction import RedactedUrl

DEFAULT_PREFIX = "policyengine:limits:"
#: Milliseconds a key outlives the instant it stops mattering, for clock skew.
SLACK_MS = 1000

# KEYS: the TAT of each of n limits, then the credit counter if there is one.
# ARGV: now (µs), consume (1 or 0), n, slack (ms), then interval and capacity (µs) of each
# limit, then, with credits: the credits and the counter's lifetime in ms (0: forever).
# Returns: 1 if admitted (and written) else 0, the TATs read (0 when absent), credits used.
# Numbers are written with %d: Lua's tostring keeps only 14 significant digits.
ACQUIRE = """
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[3])
local tats = {}
local ok = true
for i = 1, n do
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  tats[i] = tat
  local start = math.max(tat, now)
  if start + tonumber(ARGV[3 + 2 * i]) - now > tonumber(ARGV[4 + 2 * i]) then ok = false end
end
local used = 0
local counted = #KEYS > n
if counted then
  used = tonumber(redis.call('GET', KEYS[n + 1]) or '0')
  if used >= tonumber(ARGV[5 + 2 * n]) then ok = false end
end
local admitted = ok and ARGV[2] == '1'
if admitted then
  local slack = tonumber(ARGV[4])
  for i = 1, n do
    local tat = math.max(tats[i], now) + tonumber(ARGV[3 + 2 * i])
    local ttl = math.ceil((tat - now) / 1000) + slack
    redis.call('SET', KEYS[i], string.format('%d', tat), 'PX', string.format('%d', ttl))
  end
  if counted then
    redis.call('INCR', KEYS[n + 1])
    local ttl = tonumber(ARGV[6 + 2 * n])
    if ttl > 0 then redis.call('PEXPIRE', KEYS[n + 1], string.format('%d', ttl)) end
  end
end
local reply = {admitted and 1 or 0}
for i = 1, n do reply[i + 1] = tats[i] end
reply[n + 2] = used
return reply
"""


@register_scheme("redis", "rediss")
class RedisLimiter(SteppingLimiter):
    """Thread-safe (redis-py pools connections); timeouts are short so an outage fails fast."""

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
        self._script = self._client.register_script(ACQUIRE)

    def reset(self, key_id: str) -> None:
        pattern = _glob_escape(f"{self._prefix}{{{key_id}}}:") + "*"
        try:
            stale = list(self._client.scan_iter(match=pattern, count=1000))
            if stale:
                self._client.delete(*stale)
        except RedisError as error:
            raise StorageError(f"rate-limit store failed: {self._where.scrub(error)}") from None

    def close(self) -> None:
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
        base = f"{self._prefix}{{{key_id}}}:"
        keys = [f"{base}rate:{limit.name}" for limit in limits]
        args: list[Any] = [at, 1 if consume else 0, len(limits), SLACK_MS]
        for limit in limits:
            args.extend(gcra_params(limit.rate))
        period = None
        if usage is not None:
            period = current_period(usage.refill, at)
            keys.append(f"{base}usage:{period.id}")
            lifetime = 0 if period.end is None else -(-(period.end - at) // 1000) + SLACK_MS
            args += [usage.credits, lifetime]
        try:
            reply = self._script(keys=keys, args=args)
        except RedisError as error:
            raise StorageError(f"rate-limit store failed: {self._where.scrub(error)}") from None
        try:
            admitted, *tats, used = (int(value) for value in reply)
        except (TypeError, ValueError) as error:
            raise StorageError(f"rate-limit store answered {reply!r}: {error}") from error
        if len(tats) != len(limits):
            raise StorageError(f"rate-limit store answered {reply!r} for {len(limits)} limits")
        outcome, advanced = evaluate(limits, tats, usage, period, used, at, consume)
        if (advanced is not None) != bool(admitted):
            # The script and the evaluator do the same integer arithmetic on the same
            # state, so only a bug can part them; deny rather than guess.
            raise StorageError("rate-limit script and evaluator disagree")
        return outcome


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)
