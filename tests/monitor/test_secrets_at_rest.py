"""Nothing the monitor stores holds a secret: every stored byte is searched for the key,
the token, the Authorization value and hashes of them, however they were sent."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from policyengine.engine import Engine
from policyengine.keys.hashing import KeyHasher
from policyengine.request import Request

from .conftest import EngineFactory
from .support import SECRET, get, reader


def stored_bytes(engine: Engine, monitor_url: str, tmp_path: Path) -> bytes:
    if monitor_url == "memory://":
        store = engine.monitor._store
        return repr(vars(store) if hasattr(store, "__dict__") else store).encode()
    if monitor_url.startswith("sqlite:///"):
        return b"".join(p.read_bytes() for p in sorted(tmp_path.glob("monitor.db*")))
    import psycopg

    with psycopg.connect(monitor_url) as connection:
        tables = connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"
        ).fetchall()
        dump = []
        for (table,) in tables:
            rows = connection.execute(f"SELECT t::text FROM {table} t").fetchall()
            dump += [row[0] for row in rows]
    return "\n".join(dump).encode()


def needles(*secrets: str) -> dict[str, bytes]:
    hasher = KeyHasher(SECRET)
    found: dict[str, bytes] = {}
    for number, secret in enumerate(secrets):
        body = secret.rsplit("_", 1)[-1] if secret.startswith("tdoc_") else secret
        found[f"secret {number}"] = secret.encode()
        found[f"body {number}"] = body[:24].encode()
        found[f"authorization {number}"] = f"Bearer {secret}".encode()
        found[f"hmac {number}"] = hasher.hash(secret).encode()
        found[f"hmac prefix {number}"] = hasher.hash(secret)[:16].encode()
        found[f"sha256 {number}"] = hashlib.sha256(secret.encode()).hexdigest().encode()
    return found


def test_no_stored_byte_holds_a_secret(
    make_engine: EngineFactory, monitor_url: str, tmp_path: Path
) -> None:
    engine = make_engine()
    issued = reader(engine)
    secret = issued.secret
    token = engine.tokens.issue(secret, scopes=["events:read"], ttl="15m")
    typo = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    header = {"Authorization": f"Bearer {secret}", "X-Api-Key": secret}
    requests = [
        get(secret, headers=header),
        get(secret, f"/v1/events/{secret}"),
        get(secret, f"/v1/events?api_key={secret}"),
        get(secret, f"/v1/nowhere/{token}"),
        get(typo),
        get(secret[:20]),
        get(token, headers={"Authorization": f"Bearer {token}"}),
        get(token + "x"),
        get(token[:-5]),
        get("", headers=header),
        Request(credential=secret, resource=f"events/{secret}", action="read", ip="203.0.113.9"),
        get(secret, ip=secret),
    ]
    for request in requests:
        engine.check(request)
    engine.flush()
    assert engine.monitor.stats().written == len(requests)
    haystack = stored_bytes(engine, monitor_url, tmp_path)
    assert len(haystack) > 1000
    leaks = [name for name, needle in needles(secret, typo, token).items() if needle in haystack]
    assert leaks == []


@pytest.mark.parametrize("monitor_url", ["sqlite"], indirect=True)
def test_the_sqlite_monitor_file_is_private(engine: Engine, tmp_path: Path) -> None:
    engine.check(get(None))
    engine.flush()
    assert (tmp_path / "monitor.db").stat().st_mode & 0o077 == 0
