"""The engine: policies, keys and limits behind one ``check``.

``check`` runs DESIGN's pipeline: credential → key → state → environment → IP → scope
and rules → usage → rate. The first step that fails decides, and any error on the way —
a store or limiter that fails, a rule that raises — denies with ``UNAVAILABLE``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from time import perf_counter, time
from typing import Any, cast

from policyengine.decision import Code, Decision
from policyengine.errors import ConfigError, InvalidValue, StorageError, TokenError
from policyengine.express import express, failed, logged, malformed_key, unknown_key
from policyengine.judged import judged, metered
from policyengine.keys.events import APP
from policyengine.keys.lookup import NotCached
from policyengine.keys.manager import KeyManager
from policyengine.keys.validation import actor as actor_name
from policyengine.limits import Limiter, open_limiter
from policyengine.metering import apply_limits
from policyengine.monitor import DEFAULT_RETENTION, Monitor, default_monitor_url, shutdown
from policyengine.net import Proxies
from policyengine.pipeline import deny, judge, resolve
from policyengine.policy.loader import load_directory
from policyengine.policy.model import PolicySet
from policyengine.policy.prepared import PreparedPolicy
from policyengine.record import KeyRecord
from policyengine.request import Request
from policyengine.tokens import decision_code
from policyengine.tokens.exchange import TokenExchange, open_exchange, signing_keys_path

log = logging.getLogger("policyengine")
_DEBUG = logging.DEBUG

Clock = Callable[[], datetime]
EMPTY = PolicySet(key_types={})


#: The time now, without a Python frame of its own: it is read on every check.
_utc_now: Clock = partial(datetime.now, UTC)


class Engine:
    """Decides whether a credential may do what a request asks.

    ``store`` holds the keys (``sqlite:///policyengine.db``, ``memory://``,
    ``postgresql://…``); ``limiter`` the rate-limit state (``memory://``, ``redis://…``);
    ``redis``, when given, carries key changes to other processes at once. ``monitor``
    keeps every decision (by default beside the key store: ``policyengine.monitor.db``,
    the PostgreSQL store's own database, or memory; ``off`` for none) for ``retention``;
    its queue holds ``monitor_queue`` decisions (50,000) before it drops and counts them.
    With ``handle_signals`` the monitor and the keys' last-use notes are flushed on SIGTERM
    and SIGINT, before the handlers that were there already run. ``actor`` names the
    embedding code in the audit log, for policy loads and for key changes made without an
    ``actor=`` of their own.
    """

    def __init__(
        self,
        policy: PolicySet | None = None,
        *,
        environment: str = "test",
        store: str = "sqlite:///policyengine.db",
        limiter: str | Limiter = "memory://",
        redis: str | None = None,
        secret: str | bytes | None = None,
        trusted_proxies: Iterable[str] = (),
        forwarded_header: str = "x-forwarded-for",
        clock: Clock | None = None,
        directory: str | Path | None = None,
        keys: KeyManager | None = None,
        signing_keys: str | Path | None = None,
        token_issuer: str = "policyengine",  # noqa: S107 - a name, not a secret
        token_audience: str = "policyengine",  # noqa: S107
        monitor: str | None = None,
        retention: str | timedelta = DEFAULT_RETENTION,
        monitor_queue: int | None = None,
        handle_signals: bool = True,
        actor: str = APP,
        **key_options: Any,
    ) -> None:
        if environment not in ("test", "live"):
            raise InvalidValue(f"environment must be test or live, not {environment!r}")
        self._environment = environment
        self.directory = Path(directory) if directory is not None else None
        self._clock = clock or _utc_now
        #: The clock in seconds since the epoch; the default one makes no datetime.
        self._seconds: Callable[[], float] = (
            time if clock is None else lambda: self._clock().timestamp()
        )
        self._prepared = PreparedPolicy(policy or EMPTY)
        self._reload_lock = threading.Lock()
        self._proxies = Proxies(trusted_proxies, forwarded_header)
        self._limiter = open_limiter(limiter) if isinstance(limiter, str) else limiter
        self.keys = keys or KeyManager.open(
            store,
            self.policy_set,
            secret=secret,
            redis=redis,
            clock=clock,
            actor=actor,
            **key_options,
        )
        self._actor = actor
        self._store_url = store
        self._signing_keys = signing_keys
        self._token_names = (token_issuer, token_audience)
        self._tokens: TokenExchange | None = None
        self._tokens_lock = threading.Lock()
        audit_key, ephemeral = self.keys.derived_secret("audit")
        try:
            self.monitor = Monitor.open(
                monitor if monitor is not None else default_monitor_url(store, keys is None),
                clock=self._clock,
                environment=environment,
                proxies=self.proxies,
                key_prefix=self.keys.key_format.prefix,
                retention=retention,
                capacity=monitor_queue,
                policies=self.policy_set,
                audit_key=audit_key,
            )
            if self.monitor.persistent and ephemeral:
                self.monitor.close()
                raise ConfigError(
                    "the monitor's audit log outlives this process but the secret that seals "
                    "it would not: pass secret= or set POLICYENGINE_SECRET, or use monitor="
                    "'memory://'"
                )
        except BaseException:
            self.keys.close()
            raise
        self.keys.listen(self.monitor.key_event)
        self.monitor.policy_loaded(self._prepared.policy, actor, _source(self.directory))
        self._record = self.monitor.record
        self._express = express(self)
        self._shutdown = shutdown.register(self.flush, signals=handle_signals)

    @property
    def environment(self) -> str:
        """``test`` or ``live``: the keys this engine accepts. Fixed when it is made."""
        return self._environment

    @property
    def proxies(self) -> Proxies:
        """The trusted proxies whose forwarded header names the client. Fixed when it is made."""
        return self._proxies

    @property
    def limiter(self) -> Limiter:
        """Where rate-limit state lives. Another limiter may be assigned; the next check uses it."""
        return self._limiter

    @limiter.setter
    def limiter(self, limiter: Limiter) -> None:
        self._limiter = limiter
        self._express = express(self)  # the short path holds the limiter it asks

    @property
    def tokens(self) -> TokenExchange:
        """Short-lived JWTs for keys: ``engine.tokens.issue(secret, scopes=…, ttl="15m")``.
        Made on first use, so that an engine that never meets a token needs no PyJWT."""
        if self._tokens is None:
            with self._tokens_lock:
                if self._tokens is None:
                    self._tokens = open_exchange(
                        signing_keys_path(self._store_url, self._signing_keys),
                        self._token_names,
                        self.keys,
                        self._granted,
                        self._clock,
                        self.environment,
                    )
        return self._tokens

    def _granted(self, key: KeyRecord) -> list[str]:
        prepared = self._prepared
        return [str(s) for s in prepared.grants(key, prepared.key_types.get(key.type))]

    @classmethod
    def from_directory(cls, directory: str | Path, **options: Any) -> Engine:
        """An engine over the policy files in ``directory``; refuses a set that does not load."""
        return cls(load_directory(directory), directory=directory, **options)

    def policy_set(self) -> PolicySet:
        return self._prepared.policy

    @property
    def prepared(self) -> PreparedPolicy:
        return self._prepared

    def reload(self, directory: str | Path | None = None, *, actor: str | None = None) -> PolicySet:
        """Swap in the policy files of ``directory`` (by default, the one loaded from).

        The new set is loaded and compiled aside and swapped in with one assignment, so a
        check sees the old set or the new, never a mix. A set that does not load raises
        :class:`~policyengine.errors.PolicyError` and the old set keeps serving. The
        reload is written to the audit log, by ``actor`` (the engine's own by default).
        """
        source = Path(directory) if directory is not None else self.directory
        if source is None:
            raise InvalidValue("this engine was not loaded from a directory; name one")
        who = self._actor if actor is None else actor_name(actor, self.keys.key_format)
        with self._reload_lock:
            loaded = load_directory(source)
            self.keys.key_format.require_prefix_of(loaded, str(source))
            prepared = PreparedPolicy(loaded)
            previous = self._prepared.digest
            self._prepared = prepared
            self.directory = source
            self.monitor.policy_loaded(prepared.policy, who, _source(source), previous)
        log.info("policy set %s loaded from %s", prepared.digest[:12], source)
        return prepared.policy

    def check(self, request: Request, explain: bool = False, *, dry_run: bool = False) -> Decision:
        """The decision on ``request``; it may wait for the key store or the limiter.

        With ``dry_run`` the request is only described: the decision is the one a real
        check would give now, but the limits are read, not used (no credit is spent, no
        rate-limit unit taken), the key's last use is not noted and the monitor records
        nothing, so that a request can be explained without counting as traffic.
        """
        if not explain and not dry_run:
            decision = self._express(request, True)
            if decision is not None:
                return decision
        # Only a check that may not wait can go undecided.
        return cast(Decision, self._decide(request, explain, True, dry_run))

    def try_check(
        self, request: Request, explain: bool = False, *, dry_run: bool = False
    ) -> Decision | None:
        """The decision on ``request`` if it can be made from this process's memory alone,
        else ``None``: then :meth:`check` it where waiting is harmless (a worker thread).

        For an event loop: a key in the lookup cache (or known to be absent) and limits in
        memory make a decision in microseconds; a cache miss, a token, or a limiter
        across the network would block the loop for a round trip, or for a timeout.
        """
        if not explain and not dry_run:
            decision = self._express(request, False)
            if decision is not None:
                return decision
        return self._decide(request, explain, False, dry_run)

    def _decide(
        self, request: Request, explain: bool, wait: bool, dry_run: bool = False
    ) -> Decision | None:
        started = perf_counter() if self._record is not None else 0.0
        now = request.time or self._clock()
        prepared = self._prepared
        try:
            decision = self._check(prepared, request, now, explain, wait, dry_run)
        except NotCached:
            return None
        except Exception as error:  # any failure denies
            decision = failed(error)
        if log.isEnabledFor(_DEBUG):
            logged(decision)
        # Replays (``request.time``) and dry runs are not traffic: answered, not recorded.
        record = self._record
        if record is not None and request.time is None and not dry_run:
            record(started, now.timestamp(), request, decision, prepared)
        return decision

    def _check(
        self,
        prepared: PreparedPolicy,
        request: Request,
        now: datetime,
        explain: bool,
        wait: bool,
        dry_run: bool,
    ) -> Decision:
        if not prepared.key_types:
            return deny(
                Code.UNAVAILABLE,
                "policy",
                "no policies are loaded",
                error="the policy set is empty",
            )
        credential = request.credential
        if credential is None:
            return deny(Code.MISSING_CREDENTIAL, "credential", "no API key was presented")
        if not credential or credential.isspace():
            return deny(
                Code.MALFORMED_CREDENTIAL,
                "credential",
                "the credential is empty, or not sent as 'Authorization: Bearer <API key>'",
            )
        # API keys never hold a dot: anything dotted is judged as a token.
        if "." in credential:
            if not wait:  # verifying may read the signing keys' file; the key is by id
                raise NotCached
            return self._check_token(prepared, request, credential, now, explain, dry_run)
        touch = request.time is None and not dry_run
        try:
            key = self.keys.lookup(credential, now=now, touch=touch, wait=wait)
        except InvalidValue as error:
            return malformed_key(error)
        except StorageError as error:
            return deny(Code.UNAVAILABLE, "key", "the key store is unavailable", error=str(error))
        if key is None:
            return unknown_key()
        return self._judge(prepared, key, request, now, explain, None, "key", wait, dry_run)

    def _check_token(
        self,
        prepared: PreparedPolicy,
        request: Request,
        token: str,
        now: datetime,
        explain: bool,
        dry_run: bool,
    ) -> Decision:
        try:
            claims = self.tokens.verify(token, now)
        except TokenError as error:
            return deny(decision_code(error), "credential", str(error))
        try:
            key = self.keys.lookup_id(claims.key_id)
        except StorageError as error:
            return deny(Code.UNAVAILABLE, "key", "the key store is unavailable", error=str(error))
        if key is None:
            return deny(Code.NOT_FOUND, "key", "the token's key does not exist")
        # A token dies with its key: every check of the key runs, its scopes narrowed.
        return self._judge(
            prepared, key, request, now, explain, claims.scopes, "token", True, dry_run
        )

    def _judge(
        self,
        prepared: PreparedPolicy,
        key: KeyRecord,
        request: Request,
        now: datetime,
        explain: bool,
        token_scopes: tuple[str, ...] | None,
        credential_type: str,
        wait: bool = True,
        dry_run: bool = False,
    ) -> Decision:
        if explain:
            resolved = resolve(prepared, request, now.timestamp(), self.proxies, credential_type)
            decision = judge(prepared, key, resolved, self.environment, now, token_scopes, True)
            is_metered = metered(resolved)
        else:
            decision, is_metered = judged(
                prepared,
                key,
                request,
                now,
                self.proxies,
                self.environment,
                credential_type,
                token_scopes,
            )
        if not decision.allowed:
            return decision
        limits, usage = prepared.limits_for(key)
        if not limits and usage is None:
            return decision
        if not wait and not getattr(self._limiter, "in_process", False):
            raise NotCached
        # A dry run, or a route that is not metered, reads the limits and uses none.
        limiter = self._limiter
        take = limiter.acquire if not dry_run and is_metered else limiter.peek
        return apply_limits(decision, key, limits, usage, take, now.timestamp())

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Write the keys' last-use notes and everything the monitor holds; ``False`` if the
        monitor did not finish within ``timeout`` seconds."""
        try:
            self.keys.flush()
        except StorageError as error:
            log.warning("could not write the keys' last use: %s", error)
        return self.monitor.flush(timeout)

    def close(self) -> None:
        shutdown.unregister(self._shutdown)
        self._record = None
        try:
            self.keys.close()
        finally:
            self.monitor.close()
            self._limiter.close()

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _source(directory: Path | None) -> str | None:
    return str(directory) if directory is not None else None
