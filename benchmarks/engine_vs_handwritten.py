"""The engine's full check beside a hand-written function doing the same work.

Both are timed in this one process, interleaved, so the machine's speed cancels out; the
result is the ratio, not a lone absolute time. The hand-written function is what a
careful developer would write for one fixed policy: hash the key, look it up in a dict,
check its state, environment, client network and scope, and run a GCRA rate limit in
memory. The engine does the same from policy files, with its decision explained.

    python benchmarks/engine_vs_handwritten.py [--rounds 7] [--number 20000]
"""

from __future__ import annotations

import argparse
import hmac
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from policyengine.engine import Engine
from policyengine.net import NetworkSet, parse_ip
from policyengine.policy.loader import load_texts
from policyengine.request import Request

ROOT = Path(__file__).resolve().parent.parent
SECRET = b"benchmark-hashing-secret-0123456789abcdef"


@dataclass
class Hand:
    environment: str
    expires: float
    revoked: bool
    disabled: bool
    networks: NetworkSet
    scopes: frozenset[str]


def handwritten_checker(secret: str, now: float) -> Any:
    """A hand-written check for the same key, route and limit as the engine's."""
    keys = {
        hmac.digest(SECRET, secret.encode(), "sha256"): Hand(
            "live",
            now + 30 * 86400,
            False,
            False,
            NetworkSet(["203.0.113.0/24"]),
            frozenset({"events:read", "tasks:read", "hooks:read"}),
        )
    }
    routes = {("GET", "/v1/events"): "events:read"}
    tats: dict[str, float] = {}
    interval, tolerance = 60 / 1_000_000, 60.0

    def check(credential: str, method: str, path: str, ip: str, at: float) -> int:
        key = keys.get(hmac.digest(SECRET, credential.encode(), "sha256"))
        if key is None or key.revoked or key.disabled or key.expires <= at:
            return 401
        if key.environment != "live":
            return 403
        if key.networks and parse_ip(ip) not in key.networks:
            return 403
        scope = routes.get((method, path))
        if scope is None or scope not in key.scopes:
            return 403
        tat = max(tats.get(credential, at), at)
        if tat - at > tolerance:
            return 429
        tats[credential] = tat + interval
        return 200

    return check


def timed(function: Any, number: int) -> float:
    started = time.perf_counter()
    for _ in range(number):
        function()
    return (time.perf_counter() - started) / number


def extra_rules(count: int) -> str:
    """``count`` rules that apply to other resources: they must cost a check nothing."""
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


def engine_with(rules: int) -> tuple[Engine, str]:
    files = {
        str(p): p.read_text()
        for p in (ROOT / "policies").glob("*.yaml")
        if not p.stem.endswith("_test")
    }
    if rules:
        files["extra.yaml"] = extra_rules(rules)
    engine = Engine(load_texts(files), store="memory://", secret=SECRET, maintenance_interval=None)
    issued = engine.keys.create(
        type="read-only",
        label="bench",
        environment="live",
        expires_in="30d",
        allowed_ips=["203.0.113.0/24"],
        rate_limit="1000000/minute",
    )
    return engine, issued.secret


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--number", type=int, default=20000)
    parser.add_argument("--rules", type=int, nargs="*", default=[0, 1000, 10000])
    args = parser.parse_args(argv)

    engine, secret = engine_with(0)
    request = Request(credential=secret, method="GET", path="/v1/events", ip="203.0.113.9")
    assert engine.check(request).allowed
    now = datetime.now(UTC).timestamp()
    hand = handwritten_checker(secret, now)
    assert hand(secret, "GET", "/v1/events", "203.0.113.9", now) == 200

    ours, theirs = [], []
    for _ in range(args.rounds):
        ours.append(timed(lambda: engine.check(request), args.number))
        theirs.append(
            timed(
                lambda: hand(secret, "GET", "/v1/events", "203.0.113.9", time.time()), args.number
            )
        )
    engine_t, hand_t = statistics.median(ours), statistics.median(theirs)
    print(f"hand-written check  {hand_t * 1e6:7.2f} µs   (1.00×)")
    ratio = engine_t / hand_t
    print(f"engine.check        {engine_t * 1e6:7.2f} µs   ({ratio:.2f}× the hand-written)")
    engine.close()

    print("\nflat in the number of rules (each on another resource):")
    base = None
    for count in args.rules:
        scaled, scaled_secret = engine_with(count)
        req = Request(credential=scaled_secret, method="GET", path="/v1/events", ip="203.0.113.9")
        assert scaled.check(req).allowed
        check = partial(scaled.check, req)
        t = statistics.median(timed(check, args.number) for _ in range(3))
        base = base or t
        print(f"  {count:>6} extra rules  {t * 1e6:7.2f} µs   ({t / base:.2f}× the first)")
        scaled.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
