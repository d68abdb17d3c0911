"""Proof that no store keeps a key's secret, nor even its random part."""

from __future__ import annotations

from pathlib import Path

import pytest

from policyengine.keys.format import KeyFormat
from policyengine.keys.hashing import SECRET_ENV, KeyHasher
from policyengine.keys.manager import KeyManager

from .support import policy_set

FORMAT = KeyFormat("tdoc")


def issue_and_use(manager: KeyManager) -> list[str]:
    """Keys through their whole lifecycle, so that every code path that writes has written."""
    first = manager.create(type="read-only", label="export", environment="live")
    scoped = manager.create(
        type="scoped", label="CI", environment="test", scopes=["tasks:trigger"],
        allowed_ips=["2001:db8::/32"], metadata={"team": "ci"},
    )  # fmt: skip
    manager.lookup(first.secret)
    manager.flush()
    rotated = manager.rotate(scoped.key.id, grace="1h")
    manager.update(rotated.key.id, label="CI (rotated)")
    manager.disable(first.key.id)
    manager.revoke(first.key.id)
    return [first.secret, scoped.secret, rotated.secret]


def forbidden_texts(secrets: list[str]) -> list[bytes]:
    """Each secret whole, its random part, and every 12-character window of the random part."""
    found = []
    for secret in secrets:
        random = FORMAT.parse(secret).random
        found += [secret.encode(), random.encode()]
        found += [random[i : i + 12].encode() for i in range(len(random) - 11)]
    return found


def test_the_sqlite_files_hold_neither_secrets_nor_their_random_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    database = tmp_path / "keys.db"
    manager = KeyManager.open(f"sqlite:///{database}", policy_set, maintenance_interval=None)
    secrets = issue_and_use(manager)
    # Read while the WAL still holds the latest writes, and again once they are checkpointed.
    contents = [path.read_bytes() for path in sorted(tmp_path.iterdir())]
    manager.close()
    contents += [path.read_bytes() for path in sorted(tmp_path.iterdir())]
    assert any(len(data) > 0 for data in contents)
    for data in contents:
        assert not [text for text in forbidden_texts(secrets) if text in data]
    # The hashes are there (the store works), keyed by the secret file beside the database.
    hasher = KeyHasher.from_file(tmp_path / "keys.db.secret")
    assert hasher.hash(secrets[0]).encode() in b"".join(contents)


def test_the_postgresql_table_holds_neither_secrets_nor_their_random_parts(
    postgres_url: str,
) -> None:
    import psycopg

    manager = KeyManager.open(postgres_url, policy_set, secret="s" * 32, maintenance_interval=None)
    secrets = issue_and_use(manager)
    manager.close()
    with psycopg.connect(postgres_url) as connection:
        rows = connection.execute("SELECT t::text FROM policyengine_keys t").fetchall()
        migrations = connection.execute("SELECT t::text FROM policyengine_migrations t").fetchall()
    dump = "\n".join(row[0] for row in rows + migrations).encode()
    assert len(rows) == 3
    assert not [text for text in forbidden_texts(secrets) if text in dump]
    assert KeyHasher("s" * 32).hash(secrets[0]).encode() in dump
