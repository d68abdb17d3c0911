"""The scopes a token is given: within its key's, each once, and a refusal that names
exactly what was asked beyond them."""

from __future__ import annotations

from typing import Any

import pytest

from policyengine.errors import KeyRequestError
from policyengine.tokens.grants import narrow_scopes

KEY_SCOPES = ("events:*", "tasks:read", "tasks:read")


def test_asking_for_nothing_in_particular_gives_each_of_the_keys_scopes_once() -> None:
    assert narrow_scopes(KEY_SCOPES, None) == ("events:*", "tasks:read")


def test_asking_within_the_key_gives_what_was_asked_once() -> None:
    assert narrow_scopes(KEY_SCOPES, ["events:read", "events:read"]) == ("events:read",)


@pytest.mark.parametrize(
    ("granted", "requested", "reason"),
    [
        ((), None, "the key holds no scopes, so a token for it could do nothing"),
        (
            "events:read",
            None,
            "the key's scopes must be a list of scopes, such as ['events:read']",
        ),
        (KEY_SCOPES, "events:read", "scopes must be a list of scopes, such as ['events:read']"),
        (KEY_SCOPES, 7, "scopes must be a list of scopes, such as ['events:read']"),
        (
            KEY_SCOPES,
            [],
            "ask for at least one scope, or leave scopes out to get all of the key's",
        ),
        (
            KEY_SCOPES,
            ["events"],
            "invalid scope 'events': write resource:action, such as events:read, tasks:* "
            "or events/evt_42:read, or * for everything",
        ),
        (
            KEY_SCOPES,
            ["hooks:read", "events:read", "tasks:write"],
            "a token carries at most its key's scopes; the key does not hold "
            "hooks:read, tasks:write (it holds events:*, tasks:read)",
        ),
    ],
)
def test_a_request_beyond_the_key_or_not_a_list_is_refused_with_the_reason(
    granted: Any, requested: Any, reason: str
) -> None:
    with pytest.raises(KeyRequestError) as refused:
        narrow_scopes(granted, requested)
    assert str(refused.value) == reason
