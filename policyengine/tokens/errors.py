"""Why a token was refused, as the two decision codes a refusal maps to.

Every refusal is a :class:`~policyengine.errors.TokenError`. :class:`TokenExpired` is kept
for a token that is ours and intact but past its ``exp``; anything else is
:class:`TokenInvalid`. Messages are fixed texts: they never repeat the token or any part
of it, so they are safe to show a client and to log.
"""

from __future__ import annotations

from policyengine.decision import Code
from policyengine.errors import TokenError


class TokenInvalid(TokenError):
    """A token that is malformed, forged, tampered with, not for us, or not valid yet."""

    code = "token_invalid"


class TokenExpired(TokenError):
    """A genuine token of ours, intact and for us, whose ``exp`` has passed."""

    code = "token_expired"


def decision_code(error: TokenError) -> Code:
    """The decision code a refused token gets: ``TOKEN_EXPIRED`` or ``TOKEN_INVALID``."""
    return Code.TOKEN_EXPIRED if isinstance(error, TokenExpired) else Code.TOKEN_INVALID
