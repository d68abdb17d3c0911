"""Rotating, disabling, enabling, revoking, updating and listing keys, on every backend."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from policyengine.errors import KeyNotFound, KeyRequestError
from policyengine.keys.events import KeyEvent
from policyengine.keys.hashing import KeyHasher
from policyengine.keys.manager import KeyManager
from policyengine.keys.pages import IssuedKey
from policyengine.record import Usage
from policyengine.units import parse_rate

from .conftest import ManagerFactory
from .support import SECRET, Clock


def new_key(manager: KeyManager, **options: object) -> IssuedKey:
    arguments: dict[str, object] = {
        "type": "scoped",
        "label": "CI trigger",
        "environment": "live",
        "scopes": ["tasks:trigger"],
        "expires_in": "30d",
        "allowed_ips": ["198.51.100.7"],
        "rate_limits": {"burst": "5/second"},
        "usage": Usage(500, "daily"),
        "metadata": {"team": "platform"},
    }
    arguments.update(options)
    return manager.create(**arguments)  # type: ignore[arg-type]


def state(manager: KeyManager, secret: str, clock: Clock) -> str | None:
    record = manager.lookup(secret)
    return None if record is None else record.state(clock.now)


def test_rotation_gives_a_new_secret_and_keeps_the_old_one_only_for_the_grace_period(
    manager: KeyManager, clock: Clock
) -> None:
    old = new_key(manager)
    clock.advance(days=10)
    new = manager.rotate(old.key.id, grace="1h")
    assert new.secret != old.secret
    assert new.key.id != old.key.id
    assert state(manager, new.secret, clock) == "active"
    assert state(manager, old.secret, clock) == "rotated"  # still works during the grace
    clock.advance(minutes=59)
    assert state(manager, old.secret, clock) == "rotated"
    clock.advance(minutes=1)
    assert state(manager, old.secret, clock) == "revoked"
    assert state(manager, new.secret, clock) == "active"


def test_the_rotated_key_keeps_every_attribute_and_its_lifetime(
    manager: KeyManager, clock: Clock
) -> None:
    old = new_key(manager).key
    clock.advance(days=10)
    new = manager.rotate(old.id).key
    same = ("type", "label", "environment", "scopes", "allowed_ips", "rate_limits", "usage")
    assert [getattr(new, name) for name in same] == [getattr(old, name) for name in same]
    assert new.metadata == old.metadata
    assert new.expires_at == clock.now + timedelta(days=30)
    assert new.rotated_from == old.id
    retired = manager.get(old.id)
    assert retired.rotated_to == new.id
    assert retired.grace_until == clock.now + timedelta(hours=1)


def test_every_key_of_a_rotation_chain_has_the_lineage_of_the_first(
    manager: KeyManager, clock: Clock
) -> None:
    first = new_key(manager)
    assert first.key.lineage == first.key.id
    second = manager.rotate(first.key.id, grace="0s")
    third = manager.rotate(second.key.id, grace="1h")
    assert {second.key.lineage, third.key.lineage} == {first.key.id}
    for issued in (first, second, third):
        found = manager.lookup(issued.secret)
        assert found is not None
        assert found.lineage == first.key.id
    assert new_key(manager).key.lineage not in (first.key.id, "")


def test_rotation_without_grace_ends_the_old_key_at_once(manager: KeyManager, clock: Clock) -> None:
    old = new_key(manager)
    manager.lookup(old.secret)  # cached: the rotation must still be seen at once
    manager.rotate(old.key.id, grace="0s")
    assert state(manager, old.secret, clock) == "revoked"


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        ("revoke", "is revoked, so it cannot be rotated"),
        ("disable", "is disabled; enable it before rotating it"),
        ("rotate", "was already rotated to key_"),
        ("expire", "is expired, so it cannot be rotated"),
    ],
)
def test_a_key_that_cannot_be_rotated_says_why(
    manager: KeyManager, clock: Clock, prepare: str, message: str
) -> None:
    key = new_key(manager, expires_in="1d").key
    if prepare == "expire":
        clock.advance(days=2)
    else:
        getattr(manager, prepare)(key.id)
    with pytest.raises(KeyRequestError, match=message):
        manager.rotate(key.id)


def test_disable_and_enable_take_effect_at_once_even_for_a_cached_key(
    manager: KeyManager, clock: Clock
) -> None:
    issued = new_key(manager)
    assert state(manager, issued.secret, clock) == "active"
    assert manager.disable(issued.key.id).disabled
    assert state(manager, issued.secret, clock) == "disabled"
    assert manager.enable(issued.key.id).state(clock.now) == "active"
    assert state(manager, issued.secret, clock) == "active"


def test_revocation_is_immediate_final_and_harmless_to_repeat(
    manager: KeyManager, clock: Clock, events: list[KeyEvent]
) -> None:
    issued = new_key(manager)
    manager.lookup(issued.secret)
    revoked = manager.revoke(issued.key.id, reason="laptop stolen")
    assert revoked.revoked_at == clock.now
    assert state(manager, issued.secret, clock) == "revoked"
    assert manager.revoke(issued.key.id) == revoked
    assert [e.kind for e in events if e.kind == "revoked"] == ["revoked"]
    assert events[-1].details["reason"] == "laptop stolen"
    for change in (manager.enable, manager.disable):
        with pytest.raises(KeyRequestError, match="is revoked"):
            change(issued.key.id)
    with pytest.raises(KeyRequestError, match="is revoked"):
        manager.update(issued.key.id, label="back from the dead")


def test_revoking_a_rotated_key_ends_its_grace_period(manager: KeyManager, clock: Clock) -> None:
    old = new_key(manager)
    manager.rotate(old.key.id, grace="7d")
    manager.revoke(old.key.id)
    assert state(manager, old.secret, clock) == "revoked"


def test_update_changes_what_is_given_and_keeps_the_rest(
    manager: KeyManager, clock: Clock, events: list[KeyEvent]
) -> None:
    key = new_key(manager).key
    clock.advance(hours=1)
    updated = manager.update(
        key.id, label="CI trigger (prod)", allowed_ips=["203.0.113.0/24"], rate_limit="50/minute"
    )
    assert updated.label == "CI trigger (prod)"
    assert updated.allowed_ips == ("203.0.113.0/24",)
    assert updated.rate_limits == {
        "burst": parse_rate("5/second"),
        "default": parse_rate("50/minute"),
    }
    assert (updated.scopes, updated.metadata, updated.expires_at) == (
        key.scopes,
        key.metadata,
        key.expires_at,
    )
    assert manager.get(key.id) == updated
    assert events[-1].kind == "updated"
    assert events[-1].details["changed"] == "label allowed_ips rate_limits"


def test_an_update_that_breaks_the_policy_is_refused_and_changes_nothing(
    manager: KeyManager, events: list[KeyEvent]
) -> None:
    key = new_key(manager).key
    full = manager.create(type="full-access", label="admin", environment="test").key
    before = list(events)
    with pytest.raises(KeyRequestError, match="outside what key type 'scoped' allows"):
        manager.update(key.id, scopes=["keys:admin"])
    with pytest.raises(KeyRequestError, match="longer than key type 'full-access' allows"):
        manager.update(full.id, expires_in="100d")
    with pytest.raises(KeyRequestError, match="nothing to update"):
        manager.update(key.id)
    assert manager.get(key.id) == key
    assert manager.get(full.id) == full
    assert events == before


def test_an_update_retries_over_a_concurrent_change_instead_of_losing_it(
    make_manager: ManagerFactory, clock: Clock
) -> None:
    manager = make_manager()
    key = new_key(manager).key
    original = manager._policies
    raced = []

    def policies_with_a_race() -> object:
        # Another writer disables the key while this update is being computed.
        if not raced:
            raced.append(manager.disable(key.id))
        return original()

    manager._policies = policies_with_a_race  # type: ignore[assignment]
    updated = manager.update(key.id, label="renamed")
    assert updated.label == "renamed"
    assert updated.disabled
    assert manager.get(key.id) == updated


def test_list_filters_and_pages_newest_first(manager: KeyManager, clock: Clock) -> None:
    made = []
    for number in range(7):
        clock.advance(minutes=1)
        environment = "live" if number % 2 else "test"
        made.append(
            manager.create(type="read-only", label=f"export {number}", environment=environment).key
        )
    manager.revoke(made[3].id)
    seen, cursor = [], None
    while True:
        page = manager.list(limit=3, cursor=cursor)
        seen.extend(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [r.id for r in seen] == [r.id for r in reversed(made)]
    assert [r.id for r in manager.list(environment="live", state="active")] == [
        made[5].id,
        made[1].id,
    ]
    assert [r.id for r in manager.list(state="revoked")] == [made[3].id]
    assert [r.id for r in manager.list(label="EXPORT 6")] == [made[6].id]
    assert list(manager.list(type="write")) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"state": "zombie"}, "invalid state 'zombie'"),
        ({"limit": 0}, "limit must be a whole number from 1 to 1000"),
        ({"limit": 1001}, "limit must be"),
        ({"cursor": "not-a-cursor"}, "invalid cursor"),
    ],
)
def test_bad_list_arguments_are_refused(
    manager: KeyManager, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(KeyRequestError, match=message):
        manager.list(**arguments)  # type: ignore[arg-type]


def test_an_unknown_id_is_not_found_and_a_secret_passed_as_an_id_is_not_echoed(
    manager: KeyManager,
) -> None:
    with pytest.raises(KeyNotFound, match="no key with id key_"):
        manager.get("key_" + "A" * 20)
    with pytest.raises(KeyNotFound, match="not a key id"):
        manager.revoke("42")
    secret = new_key(manager).secret
    with pytest.raises(KeyRequestError) as raised:
        manager.revoke(secret)
    assert "secret, not its id" in str(raised.value)
    assert secret not in str(raised.value)


def test_every_change_is_an_event_and_no_event_carries_a_secret_or_its_hash(
    manager: KeyManager, clock: Clock, events: list[KeyEvent]
) -> None:
    issued = new_key(manager, expires_in="2d")
    manager.update(issued.key.id, label="renamed")
    manager.disable(issued.key.id)
    manager.enable(issued.key.id)
    rotated = manager.rotate(issued.key.id, grace="1h")
    other = new_key(manager, expires_in="1d")
    manager.revoke(other.key.id)
    clock.advance(days=3)
    swept = manager.sweep()
    kinds = [(e.kind, e.key_id) for e in events]
    assert kinds == [
        ("created", issued.key.id),
        ("updated", issued.key.id),
        ("disabled", issued.key.id),
        ("enabled", issued.key.id),
        ("rotated", issued.key.id),
        ("created", rotated.key.id),
        ("created", other.key.id),
        ("revoked", other.key.id),
        *[(e.kind, e.key_id) for e in swept],
    ]
    assert sorted((e.kind, e.key_id) for e in swept) == sorted(
        [("expired", rotated.key.id), ("revoked", issued.key.id)]
    )
    hasher = KeyHasher(SECRET)
    forbidden = []
    for secret in (issued.secret, rotated.secret, other.secret):
        forbidden += [secret, secret[10:40], hasher.hash(secret), hasher.hash(secret)[:16]]
    for event in events:
        text = repr(event) + json.dumps(event.as_dict())
        assert not [f for f in forbidden if f in text], event


def test_the_sweep_announces_each_passive_end_once(
    manager: KeyManager, clock: Clock, events: list[KeyEvent]
) -> None:
    key = new_key(manager, expires_in="1h").key
    assert manager.sweep() == []
    clock.advance(hours=1)
    announced = manager.sweep()
    assert [(e.kind, e.key_id) for e in announced] == [("expired", key.id)]
    assert manager.sweep() == []
    assert events[-1] == announced[0]


def test_only_one_of_several_processes_announces_an_end(
    sql_url: str, make_manager: ManagerFactory, clock: Clock
) -> None:
    first, second = make_manager(url=sql_url), make_manager(url=sql_url)
    key = new_key(first, expires_in="1h").key
    clock.advance(hours=2)
    announced = first.sweep() + second.sweep()
    assert [(e.kind, e.key_id) for e in announced] == [("expired", key.id)]
