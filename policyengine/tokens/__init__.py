"""Short-lived JWTs exchanged for an API key: issue, verify, signing keys, JWKS.

See docs/tokens.md. Everything but :func:`looks_like_jwt` and the errors needs the
``jwt`` extra (PyJWT and ``cryptography``): ``pip install 'policyengine[jwt]'``. Those
names are imported on first use, so that an engine without tokens runs without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from policyengine.errors import ConfigError
from policyengine.tokens.compact import MAX_TOKEN_LENGTH, looks_like_jwt
from policyengine.tokens.errors import TokenExpired, TokenInvalid, decision_code

if TYPE_CHECKING:
    from policyengine.tokens.claims import TokenClaims
    from policyengine.tokens.keyfile import FileKeyStore
    from policyengine.tokens.keyring import SigningKeys
    from policyengine.tokens.service import TokenService
    from policyengine.tokens.signing import ALGORITHM, SigningKey
    from policyengine.tokens.store import MemoryKeyStore, SigningKeyStore

__all__ = [
    "ALGORITHM",
    "MAX_TOKEN_LENGTH",
    "FileKeyStore",
    "MemoryKeyStore",
    "SigningKey",
    "SigningKeyStore",
    "SigningKeys",
    "TokenClaims",
    "TokenExpired",
    "TokenInvalid",
    "TokenService",
    "decision_code",
    "looks_like_jwt",
]

_LAZY = {
    "ALGORITHM": "policyengine.tokens.signing",
    "FileKeyStore": "policyengine.tokens.keyfile",
    "MemoryKeyStore": "policyengine.tokens.store",
    "SigningKey": "policyengine.tokens.signing",
    "SigningKeyStore": "policyengine.tokens.store",
    "SigningKeys": "policyengine.tokens.keyring",
    "TokenClaims": "policyengine.tokens.claims",
    "TokenService": "policyengine.tokens.service",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as error:
        raise ConfigError(
            f"JWTs need the {error.name} package: pip install 'policyengine[jwt]'"
        ) from None
