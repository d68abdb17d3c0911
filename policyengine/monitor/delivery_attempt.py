"""One delivery attempt: sign, check the target, POST, and decide what comes next.

The signing secrets are asked for at each attempt, from the caller's lookup, and are
never stored with the delivery, logged, or put in an error message. Nor is what the
target URL holds that could be a credential (a Slack path, ``?sig=…``): the log line
shows the URL by :func:`~policyengine.monitor.hook_urls.redact_hook_url`, and an
attempt's error, which the delivery log keeps, is scrubbed of it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urljoin

from policyengine.monitor import transport
from policyengine.monitor.delivery_log import Attempt, Delivery, Outcome
from policyengine.monitor.delivery_settings import DeliverySettings
from policyengine.monitor.hook_urls import RedactedHookUrl, redact_hook_url
from policyengine.monitor.targets import Resolver, TargetRefused, check_target
from policyengine.monitor.webhooks import WebhookSecretError, signed_headers

#: ``target → its signing secret(s)``, newest first; ``None`` when the target is gone.
SecretLookup = Callable[[str], str | Sequence[str] | None]
#: :func:`policyengine.monitor.transport.post`'s shape, so that tests can stand in for it.
Post = Callable[..., transport.Response]

logger = logging.getLogger("policyengine.monitor.delivery")


@dataclass(frozen=True, slots=True)
class _Result:
    status: int | None
    error: str | None
    #: Nothing a retry could change (no secret any more): the delivery goes dead at once.
    final: bool = False


@dataclass(frozen=True, slots=True)
class Sender:
    secrets: SecretLookup
    settings: DeliverySettings
    clock: Callable[[], datetime]
    resolver: Resolver
    jitter: Callable[[float], float]
    post: Post = transport.post

    def attempt(self, delivery: Delivery) -> tuple[Attempt, Outcome]:
        started = self.clock()
        begun = time.monotonic()
        result = self._send(delivery, started)
        duration = time.monotonic() - begun
        where = RedactedHookUrl(delivery.url)
        error = None if result.error is None else where.scrub(result.error)
        attempt = Attempt(0, started, duration, result.status, error)
        outcome = self._outcome(delivery, result, self.clock())
        if result.error is None:
            logger.info(
                "webhook %s (%s) delivered to %s for %s",
                delivery.id, delivery.event_type, where.shown, delivery.target,
            )  # fmt: skip
        else:
            logger.warning(
                "webhook %s (%s) to %s for %s failed, %s: %s",
                delivery.id, delivery.event_type, where.shown, delivery.target,
                "dead" if outcome.state == "dead" else f"retry at {outcome.next_attempt_at}",
                error,
            )  # fmt: skip
        return attempt, outcome

    def _send(self, delivery: Delivery, now: datetime) -> _Result:
        try:
            found = self.secrets(delivery.target)
        except Exception as error:  # the caller's lookup: its failure is one failed attempt
            # Only the type: a message from someone else's code might quote a secret.
            return _Result(None, f"the signing secret lookup failed ({type(error).__name__})")
        secrets = [found] if isinstance(found, str) else list(found or ())
        if not secrets:
            return _Result(None, f"target {delivery.target!r} has no signing secret", final=True)
        body = delivery.body.encode("utf-8")
        try:
            headers = signed_headers(secrets, delivery.id, int(now.timestamp()), body)
        except WebhookSecretError as error:
            return _Result(None, f"the target's signing secret is unusable: {error}", final=True)
        headers.update(self._fixed_headers)
        try:
            target = check_target(delivery.url, allow=self.settings.allowed, resolver=self.resolver)
        except TargetRefused as error:
            return _Result(None, f"refused: {error.reason}")
        except Exception as error:  # a bug here must not stall the queue behind this delivery
            return _Result(None, f"the URL could not be checked: {type(error).__name__}")
        try:
            response = self.post(
                target,
                headers,
                body,
                timeout=self.settings.timeout,
                ssl_context=self.settings.ssl_context,
            )
        except transport.TransportError as error:
            return _Result(None, str(error))
        except Exception as error:  # an attempt must end in the log, whatever broke
            return _Result(None, f"the request could not be made: {type(error).__name__}")
        if 200 <= response.status < 300:
            return _Result(response.status, None)
        if 300 <= response.status < 400:
            # A Location may carry a token of its own (?token=…), or the hook's own path
            # (http:// to https://): the log keeps none. A relative one reads against the URL.
            location = _absolute(delivery.url, response.location) if response.location else ""
            where = f" to {redact_hook_url(location)[:200]}" if location else ""
            return _Result(response.status, f"HTTP {response.status}: redirect{where} not followed")
        return _Result(response.status, f"HTTP {response.status}")

    @property
    def _fixed_headers(self) -> Mapping[str, str]:
        return {"content-type": "application/json", "user-agent": self.settings.user_agent}

    def _outcome(self, delivery: Delivery, result: _Result, now: datetime) -> Outcome:
        tries = delivery.tries + 1
        if result.error is None:
            return Outcome("delivered", tries, None, now)
        if result.final or tries >= self.settings.attempts:
            return Outcome("dead", tries, None, None)
        step = self.settings.schedule[tries - 1]
        wait = min(max(self.jitter(step), 0.0), step)
        return Outcome("retrying", tries, now + timedelta(seconds=wait), None)


def _absolute(url: str, location: str) -> str:
    try:
        return urljoin(url, location)
    except ValueError:  # a receiver's Location is anything it likes: "http://[", say
        return location
