"""Which scopes a token may carry: those asked for, each within the key's scopes in force.

A token never widens its key: every scope it carries must be covered by one the key
holds (``events:*`` covers ``events:read``; ``*`` covers everything). Asking for nothing
in particular gives the token all of the key's scopes. Scopes are written back in their
normal form and without repeats, so the ``scope`` claim says each thing once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from policyengine.errors import InvalidValue, KeyRequestError
from policyengine.policy.scopes import Scope, covered, parse_scope


def narrow_scopes(granted: Sequence[str], requested: Sequence[str] | None) -> tuple[str, ...]:
    """The scopes a token gets; :class:`KeyRequestError` if a request asks beyond
    ``granted`` (the key's scopes in force) or is not a list of scopes."""
    held = _parse(granted, "the key's scopes")
    if not held:
        raise KeyRequestError("the key holds no scopes, so a token for it could do nothing")
    if requested is None:
        return _unique(held)
    asked = _parse(requested, "scopes")
    if not asked:
        raise KeyRequestError(
            "ask for at least one scope, or leave scopes out to get all of the key's"
        )
    beyond = [str(scope) for scope in asked if not covered(scope, held)]
    if beyond:
        raise KeyRequestError(
            f"a token carries at most its key's scopes; the key does not hold "
            f"{', '.join(beyond)} (it holds {', '.join(_unique(held))})"
        )
    return _unique(asked)


def _parse(scopes: Sequence[str], what: str) -> tuple[Scope, ...]:
    # A lone string is a Sequence too: "events:read" would read as eleven one-letter scopes.
    if isinstance(scopes, str) or not isinstance(scopes, Sequence):
        raise KeyRequestError(f"{what} must be a list of scopes, such as ['events:read']")
    try:
        return tuple(parse_scope(text) for text in scopes)
    except InvalidValue as error:
        raise KeyRequestError(str(error)) from None


def _unique(scopes: Iterable[Scope]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(scope) for scope in scopes))
