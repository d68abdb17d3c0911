"""How webhooks are delivered: the retry schedule, timeouts, leases and the allow list."""

from __future__ import annotations

import math
import random
import ssl
from collections.abc import Iterable
from dataclasses import dataclass, field

from policyengine.errors import ConfigError, InvalidValue
from policyengine.net import NetworkSet
from policyengine.units import parse_duration

#: Seconds to wait before each retry: eight attempts over about a day and a half.
DEFAULT_SCHEDULE: tuple[float, ...] = (5.0, 30.0, 120.0, 600.0, 3600.0, 6 * 3600.0, 24 * 3600.0)


def parse_schedule(steps: Iterable[float | str]) -> tuple[float, ...]:
    """``["5s", "30s", "2m"]`` (or seconds as numbers) → the waits before each retry."""
    schedule: list[float] = []
    for step in steps:
        try:
            seconds = parse_duration(step) if isinstance(step, str) else float(step)
        except (InvalidValue, TypeError, ValueError) as error:
            raise ConfigError(f"invalid retry schedule step {step!r}: {error}") from None
        if not math.isfinite(seconds) or seconds < 0:
            raise ConfigError(f"invalid retry schedule step {step!r}: a wait is 0 or more")
        schedule.append(seconds)
    return tuple(schedule)


def full_jitter(delay: float) -> float:
    """A wait drawn evenly from ``[0, delay]``, so that receivers that failed together are
    not all retried together ("full jitter")."""
    return random.uniform(0.0, delay)  # noqa: S311 - spreading retries, not a secret


@dataclass(frozen=True, slots=True)
class DeliverySettings:
    #: The wait before each retry (each drawn with jitter); one attempt more than its steps.
    schedule: tuple[float, ...] = DEFAULT_SCHEDULE
    #: Seconds one attempt may take, connection to last byte.
    timeout: float = 10.0
    #: Networks that webhooks may reach although they are not public (tests: loopback);
    #: a :class:`NetworkSet` or CIDRs such as ``["127.0.0.1/32"]``.
    allow: NetworkSet | Iterable[str] = field(default_factory=NetworkSet)
    #: Background threads that deliver, per process.
    workers: int = 2
    #: Deliveries a worker claims at once.
    batch: int = 5
    #: How long a claim holds a delivery; after it, another worker may take it over.
    lease: float = 120.0
    #: The longest a worker sleeps before looking for work queued by other processes.
    poll_interval: float = 1.0
    #: For HTTPS targets; the default trusts the system's certificate authorities.
    ssl_context: ssl.SSLContext | None = None
    user_agent: str = "policyengine-webhooks/1"

    def __post_init__(self) -> None:
        object.__setattr__(self, "schedule", parse_schedule(self.schedule))
        if not isinstance(self.allow, NetworkSet):
            if isinstance(self.allow, str):
                raise ConfigError("allow is a list of CIDRs, such as ['127.0.0.1/32']")
            try:
                object.__setattr__(self, "allow", NetworkSet(self.allow))
            except InvalidValue as error:
                raise ConfigError(f"invalid allow list: {error}") from None
        if not (0 < self.timeout <= 300):
            raise ConfigError(f"a delivery timeout is 0 to 300 seconds, not {self.timeout}")
        if self.workers < 0 or self.batch < 1:
            raise ConfigError("workers must be 0 or more and batch 1 or more")
        if self.poll_interval <= 0:
            raise ConfigError("the poll interval must be longer than zero")
        # A lease that can run out during an attempt would let a second worker send it too.
        if self.lease < 2 * self.timeout * self.batch:
            raise ConfigError(
                f"the lease ({self.lease:g}s) must be at least twice the time a claimed batch "
                f"can take ({self.batch} × {self.timeout:g}s timeout)"
            )

    @property
    def allowed(self) -> NetworkSet:
        """The allow list, as :meth:`__post_init__` made it."""
        if not isinstance(self.allow, NetworkSet):  # pragma: no cover - made one above
            raise TypeError("allow was not normalised")
        return self.allow

    @property
    def attempts(self) -> int:
        """How many attempts a delivery gets before it is dead."""
        return len(self.schedule) + 1
