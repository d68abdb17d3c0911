"""Killed outright under heavy traffic, a process loses only what it had not written yet:
the records it wrote are all there, with no gap, and the audit log's chain verifies."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from policyengine.keys.manager import KeyManager
from policyengine.monitor import Monitor
from policyengine.policy.model import PolicySet

from .support import SECRET, Clock

HEAVY = Path(__file__).with_name("heavy.py")
#: Records the child must have written before it is killed.
WRITTEN = 5_000


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'keys.db'}", f"sqlite:///{tmp_path / 'monitor.db'}"
    url = str(request.getfixturevalue("postgres_url"))
    return url, url


def test_sigkill_loses_at_most_what_was_not_written_and_the_chain_verifies(
    urls: tuple[str, str],
) -> None:
    store, monitor_url = urls
    child = subprocess.Popen(
        [sys.executable, str(HEAVY), store, monitor_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "POLICYENGINE_SECRET": SECRET},
    )
    assert child.stdout is not None
    key_id, last, deadline = "", (0, 0, 0), time.monotonic() + 240
    try:
        for line in child.stdout:
            words = line.split()
            if words[0] == "key":
                key_id = words[1]
            else:
                last = (int(words[1]), int(words[3]), int(words[5]))
                if last[1] >= WRITTEN or time.monotonic() > deadline:
                    break
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        stderr = child.communicate(timeout=30)[1]
    assert child.returncode == -signal.SIGKILL, stderr
    _, written, dropped = last
    assert written >= WRITTEN, stderr
    assert dropped == 0

    if monitor_url.startswith("sqlite:///"):
        with sqlite3.connect(monitor_url[len("sqlite:///") :]) as connection:
            assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    keys = KeyManager.open(store, lambda: PolicySet(key_types={}), secret=SECRET, create=False)
    audit_key, _ = keys.derived_secret("audit")
    keys.close()
    monitor = Monitor.open(monitor_url, clock=Clock(), audit_key=audit_key)
    try:
        ids, cursor = set(), None
        while True:
            page = monitor.activity(key_id, code="OK", limit=1000, cursor=cursor)
            ids |= {record.request_id for record in page}  # type: ignore[union-attr]
            cursor = page.next_cursor
            if cursor is None:
                break
        kept = len(ids)
        # Everything reported written is there, and what is there has no gap: only the
        # tail that was still queued or in flight is gone.
        assert kept >= written
        assert ids == {f"r{n}" for n in range(kept)}
        verification = monitor.audit.verify()
        assert verification.ok, verification.problem
        assert verification.checked >= 2  # the policy load and the key, then the churn
    finally:
        monitor.close()
