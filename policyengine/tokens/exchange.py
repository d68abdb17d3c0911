"""``engine.tokens``: an API key exchanged for a short-lived JWT, and what the engine
needs to accept one. The key is judged first; a token carries at most its scopes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from policyengine.errors import InvalidValue, KeyRequestError
from policyengine.keys.manager import KeyManager
from policyengine.record import KeyRecord

if TYPE_CHECKING:
    from policyengine.tokens.claims import TokenClaims
    from policyengine.tokens.service import TokenService

#: Key states in which a key may still be exchanged for a token.
USABLE = ("active", "rotated")


class TokenExchange:
    def __init__(
        self,
        service: TokenService,
        keys: KeyManager,
        grants: Callable[[KeyRecord], Sequence[str]],
        clock: Callable[[], datetime],
        environment: str,
    ) -> None:
        self.service = service
        self._keys = keys
        self._grants = grants
        self._clock = clock
        self._environment = environment

    def issue(
        self, secret: str, scopes: Sequence[str] | None = None, ttl: str | float = "15m"
    ) -> str:
        """A JWT for the key whose secret this is, with ``scopes`` (each within the key's
        own; all of them by default), living ``ttl`` at most and never past the key."""
        now = self._clock()
        try:
            key = self._keys.lookup(secret, now=now, touch=False)
        except InvalidValue as error:
            raise KeyRequestError(str(error)) from None
        if key is None:
            raise KeyRequestError("no such key")
        state = key.state(now)
        if state not in USABLE:
            raise KeyRequestError(f"the key is {state}")
        if key.environment != self._environment:
            raise KeyRequestError(
                f"a {key.environment} key cannot be exchanged in the {self._environment} "
                "environment"
            )
        return self.service.issue(key, self._grants(key), scopes, ttl, now)

    def verify(self, token: str, now: datetime) -> TokenClaims:
        return self.service.verify(token, now)

    def jwks(self) -> dict[str, Any]:
        """The public signing keys, current and previous, as a JWKS document."""
        return dict(self.service.jwks(self._clock()))

    def rotate(self) -> str:
        """Sign with a new key from now on; the previous one verifies until its tokens end."""
        return self.service.rotate(self._clock())


def signing_keys_path(store: str, given: str | Path | None) -> Path | None:
    """Where token signing keys are kept: as given, beside an SQLite store, else in memory
    (tokens are then verifiable by this process only; give a path shared by every
    instance)."""
    if given is not None:
        return Path(given)
    if store.startswith("sqlite:///"):
        return Path(store.removeprefix("sqlite:///") + ".signing-keys.json")
    return None


def open_exchange(
    path: Path | None,
    names: tuple[str, str],
    keys: KeyManager,
    grants: Callable[[KeyRecord], Sequence[str]],
    clock: Callable[[], datetime],
    environment: str,
) -> TokenExchange:
    """The exchange over signing keys kept at ``path`` (in memory when ``None``); PyJWT is
    imported here, on first use."""
    from policyengine.tokens import FileKeyStore, MemoryKeyStore, SigningKeys, TokenService

    store = FileKeyStore(path) if path is not None else MemoryKeyStore()
    issuer, audience = names
    service = TokenService(SigningKeys(store), issuer=issuer, audience=audience)
    return TokenExchange(service, keys, grants, clock, environment)
