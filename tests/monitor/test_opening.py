"""Where the monitor keeps its records, by default and by URL, and what it refuses."""

from __future__ import annotations

from pathlib import Path

import pytest

from policyengine.engine import Engine
from policyengine.errors import ConfigError
from policyengine.keys.hashing import KeyHasher
from policyengine.keys.manager import KeyManager
from policyengine.keys.memory import MemoryStore
from policyengine.monitor import default_monitor_url
from policyengine.policy.loader import load_directory

from .support import POLICIES, SECRET, get


@pytest.mark.parametrize(
    ("store", "monitor"),
    [
        ("sqlite:///policyengine.db", "sqlite:///policyengine.monitor.db"),
        ("sqlite:////var/lib/pe/keys.sqlite", "sqlite:////var/lib/pe/keys.monitor.sqlite"),
        ("sqlite:///keys", "sqlite:///keys.monitor"),
        ("postgresql://app@db/main", "postgresql://app@db/main"),
        ("memory://", "memory://"),
    ],
)
def test_the_default_monitor_lives_beside_the_key_store(store: str, monitor: str) -> None:
    assert default_monitor_url(store) == monitor


def test_an_engine_over_sqlite_keeps_its_monitor_in_a_file_beside_the_keys(tmp_path: Path) -> None:
    with Engine.from_directory(
        POLICIES,
        environment="live",
        store=f"sqlite:///{tmp_path / 'keys.db'}",
        maintenance_interval=None,
        handle_signals=False,
    ) as engine:
        engine.check(get(None))
        engine.flush()
        assert engine.monitor.persistent
    assert (tmp_path / "keys.monitor.db").exists()


def test_an_engine_handed_its_keys_keeps_its_monitor_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The store URL (by default sqlite:///policyengine.db) did not open these keys.
    monkeypatch.chdir(tmp_path)
    policy = load_directory(POLICIES)
    keys = KeyManager(MemoryStore(), lambda: policy, hasher=KeyHasher(SECRET))
    with Engine(policy, keys=keys, handle_signals=False) as engine:
        assert not engine.monitor.persistent
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"monitor": "mongodb://x"}, "unknown monitor URL"),
        ({"monitor": "sqlite://relative.db"}, "invalid SQLite monitor URL"),
        ({"retention": "soon"}, "invalid retention"),
        ({"retention": "10s"}, "at least a minute"),
    ],
)
def test_a_bad_monitor_setting_is_refused(options: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Engine.from_directory(
            POLICIES, environment="live", store="memory://", secret=SECRET, **options
        )
