"""Process shutdown writes what the monitor holds, and the keys' last use, whichever way
the process is told to stop, and hands the signal on to the host's own handler."""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from policyengine.engine import Engine
from policyengine.keys.manager import KeyManager
from policyengine.monitor import Monitor, shutdown
from policyengine.policy.loader import load_directory
from policyengine.policy.model import PolicySet

from .support import POLICIES, SECRET

CHILD = Path(__file__).with_name("child.py")
COUNT = 2000


def run_child(tmp_path: Path, mode: str) -> tuple[subprocess.CompletedProcess[str], str]:
    done = subprocess.run(
        [sys.executable, str(CHILD), str(tmp_path), mode, str(COUNT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    lines = done.stdout.splitlines()
    assert lines, done.stderr
    queued = int(lines[1].split()[1])
    assert queued > 0, "the writer should still have been holding the records"
    return done, lines[0]


def stored(tmp_path: Path, key_id: str) -> int:
    monitor = Monitor.open(f"sqlite:///{tmp_path / 'policyengine.monitor.db'}", clock=_now)
    try:
        total, cursor = 0, None
        while True:
            page = monitor.activity(key_id, action="read", limit=1000, cursor=cursor)
            total, cursor = total + len(page), page.next_cursor
            if cursor is None:
                return total
    finally:
        monitor.close()


def last_used(tmp_path: Path, key_id: str) -> datetime | None:
    manager = KeyManager.open(
        f"sqlite:///{tmp_path / 'policyengine.db'}",
        lambda: PolicySet(key_types={}),
        maintenance_interval=None,
    )
    try:
        return manager.get(key_id).last_used_at
    finally:
        manager.close()


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.mark.parametrize(
    ("mode", "status", "said"),
    [
        ("sigterm", -signal.SIGTERM, ""),
        ("sigint", -signal.SIGINT, "KeyboardInterrupt"),
        ("host-sigterm", 3, "the host's handler ran"),
        ("exit", 0, ""),
    ],
)
def test_every_record_and_last_use_is_written_on_the_way_out(
    tmp_path: Path, mode: str, status: int, said: str
) -> None:
    done, key_id = run_child(tmp_path, mode)
    assert done.returncode == status, done.stderr
    assert said in done.stdout + done.stderr
    assert stored(tmp_path, key_id) == COUNT
    assert last_used(tmp_path, key_id) is not None


def test_an_engine_takes_sigterm_and_sigint_unless_told_not_to(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = load_directory(POLICIES)
    before = {signum: signal.getsignal(signum) for signum in shutdown.SIGNALS}
    monkeypatch.setattr(shutdown, "_previous", {})  # as in a process that has no engine yet
    try:
        for signum in shutdown.SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        with Engine(policy, store="memory://", secret=SECRET, handle_signals=False):
            assert [signal.getsignal(s) for s in shutdown.SIGNALS] == [signal.SIG_DFL] * 2
        with Engine(policy, store="memory://", secret=SECRET):
            assert signal.SIG_DFL not in [signal.getsignal(s) for s in shutdown.SIGNALS]
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
