"""What every workload starts from: tDoc's policies, engines over them, keys, requests.

Keys get a rate limit far above what a benchmark sends (``UNREACHED``), so that a
measured allowed check stays allowed; every workload checks the code it expects before
and after it is timed (:func:`expect`).
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from policyengine import Code, Engine, Request
from policyengine.keys.hashing import KeyHasher
from policyengine.keys.manager import KeyManager
from policyengine.keys.store import KeyStore, open_store
from policyengine.policy.loader import load_texts
from policyengine.policy.model import PolicySet

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "policies"
SECRET = "benchmark-hashing-secret-0123456789abcdef"
#: A rate no benchmark reaches: about 16,700 requests a second, sustained.
UNREACHED = "1000000/minute"
INSIDE = "203.0.113.9"
OUTSIDE = "198.51.100.7"
NETWORK = "203.0.113.0/24"


class BenchmarkError(RuntimeError):
    """A workload did not behave as it must for its timing to mean anything."""


def policy_texts(extra_rules: int = 0) -> dict[str, str]:
    """tDoc's policy files as ``{path: text}``, with ``extra_rules`` more rules."""
    files = {
        str(path): path.read_text(encoding="utf-8")
        for path in sorted(POLICIES.glob("*.yaml"))
        if not path.stem.endswith("_test")
    }
    if extra_rules:
        files[str(POLICIES / "extra.yaml")] = extra_rules_text(extra_rules)
    return files


def extra_rules_text(count: int) -> str:
    """``count`` deny rules, each on a resource of its own (``other<i>``), none of them
    on tDoc's routes: a check of ``GET /v1/events`` should not pay for them."""
    lines = ["version: 1", "resources:"]
    lines += [f"  other{i}: [read]" for i in range(count)]
    lines.append("rules:")
    for i in range(count):
        lines += [
            f"  - name: other-{i}",
            "    effect: deny",
            f"    resources: [other{i}]",
            f'    when: key.label == "x{i}"',
        ]
    return "\n".join(lines) + "\n"


def write_policies(directory: Path, extra_rules: int = 0) -> Path:
    """tDoc's policy files, plus ``extra_rules``, written into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in policy_texts(extra_rules).items():
        (directory / Path(name).name).write_text(text, encoding="utf-8")
    return directory


def policy_set(extra_rules: int = 0) -> PolicySet:
    return load_texts(policy_texts(extra_rules))


class Keyring:
    """An engine over ``memory://`` whose keys can also be created as at another instant
    (an expired key is one created long ago), through a second manager on the same store."""

    def __init__(self, policy: PolicySet | None = None, **engine_options: Any) -> None:
        # The decision alone: what monitoring adds is a section of its own.
        engine_options.setdefault("monitor", "off")
        engine_options.setdefault("handle_signals", False)
        policy = policy or policy_set()
        self.store: KeyStore = open_store("memory://")
        self.hasher = KeyHasher(SECRET)
        keys = KeyManager(self.store, lambda: policy, hasher=self.hasher)
        self.engine = Engine(
            policy, environment="live", store="memory://", keys=keys, **engine_options
        )
        self._policy = policy

    def issue(self, *, at: datetime | None = None, **options: Any) -> str:
        """A new key's secret (see :func:`issue`); created as at ``at`` when given."""
        if at is None:
            return issue(self.engine, **options)
        policy = self._policy
        then = KeyManager(
            self.store,
            lambda: policy,
            hasher=self.hasher,
            clock=_fixed(at),
            maintenance_interval=None,
        )
        return then.create(**key_fields(options)).secret  # not closed: that closes the store

    def key_id(self, secret: str) -> str:
        record = self.engine.keys.lookup(secret, touch=False)
        if record is None:
            raise BenchmarkError("a key just created is not found")
        return record.id

    def close(self) -> None:
        self.engine.close()


def key_fields(options: dict[str, Any]) -> dict[str, Any]:
    """A read-only live key on ``NETWORK`` that no benchmark rate-limits, unless
    ``options`` say otherwise."""
    fields = {
        "type": "read-only",
        "label": "bench",
        "environment": "live",
        "expires_in": "30d",
        "allowed_ips": [NETWORK],
        "rate_limit": UNREACHED,
        **options,
    }
    if "rate_limits" in options:
        del fields["rate_limit"]
    return fields


def issue(engine: Engine, **options: Any) -> str:
    """The secret of a new key of ``engine`` (see :func:`key_fields`)."""
    return engine.keys.create(**key_fields(options)).secret


def _fixed(at: datetime) -> Callable[[], datetime]:
    return lambda: at


def long_ago(days: float = 40) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


def request(
    secret: str | None, method: str = "GET", path: str = "/v1/events", **more: Any
) -> Request:
    return Request(credential=secret, method=method, path=path, ip=more.pop("ip", INSIDE), **more)


def expect(engine: Engine, asked: Request, code: Code, what: str) -> None:
    """Refuse to time a workload that does not decide as it should."""
    decided = engine.check(asked)
    if decided.code is not code:
        raise BenchmarkError(
            f"{what}: expected {code.value}, the engine answered {decided.code.value} "
            f"({decided.reason})"
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
