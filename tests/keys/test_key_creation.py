"""Creating keys through ``KeyManager``, on every backend: what is issued, and what is refused."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from policyengine.errors import KeyRequestError
from policyengine.keys.events import KeyEvent
from policyengine.keys.format import KeyFormat
from policyengine.keys.manager import KeyManager
from policyengine.policy.model import KeyType, PolicySet
from policyengine.record import Usage
from policyengine.units import parse_rate

from .conftest import ManagerFactory
from .support import Clock, scopes


def test_create_issues_a_secret_once_and_stores_only_facts_about_it(
    manager: KeyManager, clock: Clock
) -> None:
    issued = manager.create(
        type="read-only",
        label="nightly export",
        environment="live",
        expires_in="30d",
        allowed_ips=["203.0.113.0/24", "2001:db8::/32"],
        rate_limit="100/minute",
        metadata={"team": "data"},
    )
    key = issued.key
    assert issued.secret.startswith("tdoc_live_")
    assert len(issued.secret) == 46
    assert issued.secret not in repr(issued)
    assert key.id.startswith("key_")
    assert key.display == f"tdoc_live_…{issued.secret[-4:]}"
    assert (key.type, key.label, key.environment) == ("read-only", "nightly export", "live")
    assert key.created_at == clock.now
    assert key.expires_at == clock.now + timedelta(days=30)
    assert key.allowed_ips == ("203.0.113.0/24", "2001:db8::/32")
    assert key.rate_limits == {"default": parse_rate("100/minute")}
    assert key.metadata == {"team": "data"}
    assert key.state(clock.now) == "active"
    assert manager.get(key.id) == key
    assert manager.lookup(issued.secret) == key


def test_a_scoped_key_keeps_its_own_scopes_normalised(manager: KeyManager) -> None:
    issued = manager.create(
        type="scoped",
        label="CI trigger",
        environment="live",
        scopes=["tasks:trigger", "events/evt_42:read", "tasks:trigger", "hooks:*"],
    )
    assert issued.key.scopes == ("tasks:trigger", "events/evt_42:read", "hooks:*")


def test_without_expires_in_a_key_lives_as_long_as_its_type_allows(
    manager: KeyManager, clock: Clock
) -> None:
    full = manager.create(type="full-access", label="admin", environment="test")
    assert full.key.expires_at == clock.now + timedelta(days=90)
    forever = manager.create(type="read-only", label="dashboard", environment="test")
    assert forever.key.expires_at is None


def test_named_rate_limits_and_usage_are_kept(manager: KeyManager) -> None:
    issued = manager.create(
        type="write",
        label="importer",
        environment="test",
        rate_limit="10/second",
        rate_limits={"daily": "5000/day"},
        usage=Usage(1000, "daily"),
    )
    assert issued.key.rate_limits == {
        "default": parse_rate("10/second"),
        "daily": parse_rate("5000/day"),
    }
    assert issued.key.usage == Usage(1000, "daily")


def test_a_type_that_requires_fields_accepts_a_key_that_has_them(manager: KeyManager) -> None:
    issued = manager.create(
        type="partner",
        label="Acme sync",
        environment="live",
        allowed_ips=["198.51.100.7"],
        metadata={"team": "partners"},
    )
    assert issued.key.type == "partner"


def test_a_reloaded_policy_set_applies_to_the_next_creation(
    make_manager: ManagerFactory, policies: PolicySet
) -> None:
    current = {"set": policies}
    manager = make_manager()
    manager._policies = lambda: current["set"]  # what an engine reload does
    with pytest.raises(KeyRequestError, match="unknown key type 'billing'"):
        manager.create(type="billing", label="invoices", environment="test")
    billing = KeyType("billing", "Invoices", scopes("events:read"))
    current["set"] = replace(policies, key_types={**policies.key_types, "billing": billing})
    assert (
        manager.create(type="billing", label="invoices", environment="test").key.type == "billing"
    )


BAD_REQUESTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "unknown type",
        {"type": "read-olny"},
        "unknown key type 'read-olny' (did you mean 'read-only'?)",
    ),
    (
        "scope outside the type",
        {"type": "scoped", "scopes": ["keys:admin"]},
        "scope 'keys:admin' is outside what key type 'scoped' allows",
    ),
    ("scopes on a fixed type", {"scopes": ["events:read"]}, "has fixed scopes"),
    ("scoped type without scopes", {"type": "scoped"}, "takes its scopes from the key"),
    (
        "a scope string, not a list",
        {"type": "scoped", "scopes": "events:read"},
        "takes its scopes from the key",
    ),
    ("unparsable scope", {"type": "scoped", "scopes": ["events"]}, "invalid scope 'events'"),
    (
        "lifetime over the maximum",
        {"type": "full-access", "expires_in": "91d"},
        "a lifetime of 91 days is longer than key type 'full-access' allows (90 days)",
    ),
    ("bad duration", {"expires_in": "soon"}, "invalid duration 'soon'"),
    ("zero lifetime", {"expires_in": "0s"}, "expires_in must be longer than zero"),
    ("bad CIDR", {"allowed_ips": ["10.0.0.1/8"]}, "has host bits set (did you mean '10.0.0.0/8'?)"),
    ("not an address", {"allowed_ips": ["intranet"]}, "invalid CIDR 'intranet'"),
    ("one CIDR string", {"allowed_ips": "10.0.0.0/8"}, "allowed_ips takes a list of CIDRs"),
    ("bad rate", {"rate_limit": "fast"}, "invalid rate 'fast'"),
    ("bad limit name", {"rate_limits": {"per day": "10/day"}}, "invalid rate limit name 'per day'"),
    (
        "default limit twice",
        {"rate_limit": "1/s", "rate_limits": {"default": "2/s"}},
        "pass the default limit once",
    ),
    ("empty label", {"label": "   "}, "a key needs a label"),
    ("label too long", {"label": "x" * 201}, "at most 200"),
    ("label with a control character", {"label": "a\x1bb"}, "control character"),
    (
        "secret pasted in a label",
        {"label": "for " + KeyFormat("tdoc").generate("live")},
        "contains an API key",
    ),
    ("metadata not text", {"metadata": {"count": 3}}, "metadata 'count' must be a string"),
    ("metadata name", {"metadata": {"bad name": "x"}}, "invalid metadata name 'bad name'"),
    ("too much metadata", {"metadata": {f"k{i}": "v" for i in range(33)}}, "at most 32 entries"),
    ("unknown environment", {"environment": "staging"}, "invalid environment 'staging'"),
    (
        "environment the type forbids",
        {
            "type": "partner",
            "environment": "test",
            "allowed_ips": ["10.0.0.0/8"],
            "metadata": {"team": "x"},
        },
        "allows only live keys",
    ),
    (
        "required allow-list missing",
        {"type": "partner", "metadata": {"team": "x"}},
        "requires allowed_ips to be set",
    ),
    (
        "required metadata missing",
        {"type": "partner", "allowed_ips": ["10.0.0.0/8"]},
        "requires metadata.team to be set",
    ),
    ("zero usage credits", {"usage": Usage(0)}, "at least 1"),
    ("unknown refill", {"usage": Usage(5, "weekly")}, "refill must be daily, monthly or never"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("request_", "message"),
    [pytest.param(request, message, id=name) for name, request, message in BAD_REQUESTS],
)
def test_bad_input_is_refused_with_a_clear_message_and_changes_nothing(
    manager: KeyManager, events: list[KeyEvent], request_: dict[str, Any], message: str
) -> None:
    arguments = {"type": "read-only", "label": "a key", "environment": "live", **request_}
    with pytest.raises(KeyRequestError) as raised:
        manager.create(**arguments)
    assert message in str(raised.value)
    assert list(manager.list()) == []
    assert events == []
