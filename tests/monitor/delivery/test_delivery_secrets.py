"""No signing secret ever reaches the delivery log, its rows, or the logs, whatever happens
to the delivery (delivered, failed, refused, or a secret lookup that breaks)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from policyengine.monitor.webhooks import generate_secret, secret_key

from .conftest import QueueFactory, fast_settings
from .support import Answer, running_receiver, wait_for_state


def forms_of(secret: str) -> list[bytes]:
    key = secret_key(secret)
    return [secret.encode(), secret.removeprefix("whsec_").encode(), key, key.hex().encode()]


def stored_bytes(url: str) -> bytes:
    """Every byte the log keeps: the SQLite files, or every PostgreSQL row as text."""
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    import psycopg

    with psycopg.connect(url) as connection:
        rows = []
        for table in ("policyengine_deliveries", "policyengine_delivery_attempts"):
            rows += connection.execute(f"SELECT t::text FROM {table} t").fetchall()
    return "\n".join(row[0] for row in rows).encode()


def test_no_secret_is_stored_or_logged(
    sql_url: str, make_queue: QueueFactory, caplog: pytest.LogCaptureFixture
) -> None:
    secret, broken = generate_secret(), generate_secret()

    def lookup(target: str) -> str:
        if target == "hook_broken":
            raise KeyError(f"cannot decrypt {broken}")
        return secret

    caplog.set_level(logging.DEBUG)
    with running_receiver(Answer(500), Answer(204)) as receiver:
        queue = make_queue(
            url=sql_url,
            secrets=lookup,
            settings=fast_settings(allow=["127.0.0.1/32"], schedule=(0.05, 30)),
        )
        kept = queue.enqueue("hook_1", receiver.url(), "key.created", {"label": "nightly"})
        refused = queue.enqueue("hook_1", "http://10.0.0.7/in", "key.created", {})
        failed = queue.enqueue("hook_broken", receiver.url(), "key.created", {})
        delivered = wait_for_state(queue, kept.id, "delivered")
        broken_attempt = wait_for_state(queue, failed.id, "retrying").attempts[0]
        refused_attempt = wait_for_state(queue, refused.id, "retrying").attempts[0]
        shown = repr(queue.list(limit=10)) + repr(queue.get(kept.id))
    assert len(delivered.attempts) == 2
    assert broken_attempt.error == "the signing secret lookup failed (KeyError)"
    assert refused_attempt.error is not None
    assert refused_attempt.error.startswith("refused: 10.0.0.7 is a private address")
    logged = "\n".join(record.getMessage() for record in caplog.records).encode()
    assert b"HTTP 500" in logged  # the failures were logged, just not the secrets
    everything = stored_bytes(sql_url) + logged + shown.encode()
    assert b"nightly" in everything
    for form in forms_of(secret) + forms_of(broken):
        assert form not in everything
