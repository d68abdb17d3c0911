"""Short-lived access tokens: an API key exchanged for a JWT, and the JWT verified.

The engine looks the key up and checks it is usable before :meth:`TokenService.issue`,
and after :meth:`TokenService.verify` it loads the key named in the token and runs every
check of an API key, with the token's scopes narrowing the key's. So a token carries at
most its key's scopes and dies with its key, and this module needs no key store.

Verification never reads the clock: the caller says what time it is.
"""

from __future__ import annotations

import json
import math
import secrets
import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TypeVar

import jwt
from jwt.algorithms import ECAlgorithm

from policyengine.errors import ConfigError, InvalidValue, KeyRequestError
from policyengine.record import KeyRecord
from policyengine.tokens.claims import (
    TOKEN_TYPE,
    Expected,
    TokenClaims,
    check_header,
    check_time,
    read_claims,
)
from policyengine.tokens.compact import decode_part, encode_part, json_object, split_token
from policyengine.tokens.errors import TokenInvalid
from policyengine.tokens.grants import narrow_scopes
from policyengine.tokens.keyring import Jwks, SigningKeys
from policyengine.tokens.signing import ALGORITHM, SigningKey, aware, is_low_s, low_s
from policyengine.units import MAX_DURATION_SECONDS, format_duration, parse_duration

_UNKNOWN_KEY = "the token was not signed by a current key of this service"
_BAD_SIGNATURE = "the token's signature does not verify"
_Entry = TypeVar("_Entry")


class TokenService:
    def __init__(
        self,
        signing_keys: SigningKeys,
        issuer: str,
        audience: str,
        max_ttl: str | float = "1h",
        leeway_seconds: float = 5,
        *,
        cache_size: int = 4096,
    ) -> None:
        """``cache_size`` verified tokens are remembered, so that a token presented again
        costs a dictionary lookup and the time checks instead of a signature check; as
        many tokens whose signature failed are remembered with the key that failed them,
        so that a forgery sent again is refused without a signature check either."""
        for name, value in (("issuer", issuer), ("audience", audience)):
            if not isinstance(value, str) or not value:
                raise ConfigError(f"a token service needs an {name}: a non-empty string")
        try:
            longest = seconds(max_ttl, "max_ttl")
            leeway = seconds(leeway_seconds, "leeway_seconds")
        except InvalidValue as error:
            raise ConfigError(str(error)) from None
        if longest < 1:
            raise ConfigError("max_ttl must be at least one second")
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise ConfigError("cache_size must be a whole number, 0 or more")
        self._keys = signing_keys
        self._expected = Expected(issuer, audience, timedelta(seconds=math.floor(longest)))
        self._leeway = timedelta(seconds=leeway)
        self._encoder = jwt.PyJWS(algorithms=[ALGORITHM])
        # The one algorithm verification uses, fixed here: the token's header never picks it.
        self._algorithm = ECAlgorithm(ECAlgorithm.SHA256)
        self._cache_size = cache_size
        self._verified: dict[str, TokenClaims] = {}
        #: Token → (kid, the key object its signature failed under).
        self._forged: dict[str, tuple[str, SigningKey]] = {}
        self._cache_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TokenService(issuer={self.issuer!r}, audience={self.audience!r})"

    @property
    def issuer(self) -> str:
        return self._expected.issuer

    @property
    def audience(self) -> str:
        return self._expected.audience

    @property
    def max_ttl(self) -> timedelta:
        return self._expected.max_lifetime

    @property
    def retire_after(self) -> timedelta:
        """How long a superseded signing key must keep verifying: the longest token
        lifetime plus the leeway."""
        return self._expected.max_lifetime + self._leeway

    def issue(
        self,
        key: KeyRecord,
        granted: Sequence[str],
        scopes: Sequence[str] | None,
        ttl: str | float,
        now: datetime,
    ) -> str:
        """A token for ``key``, carrying ``scopes`` (default: all of ``granted``, the
        key's scopes in force) and living ``ttl`` (no longer than ``max_ttl``, nor than
        the key itself). :class:`KeyRequestError` says what is wrong with a request."""
        moment = aware(now)
        lifetime = self._lifetime(ttl)
        chosen = narrow_scopes(granted, scopes)
        issued = math.floor(moment.timestamp())
        expires = issued + lifetime
        for end in (key.expires_at, key.grace_until):
            if end is not None:
                expires = min(expires, math.floor(end.timestamp()))
        if expires <= issued:
            raise KeyRequestError(f"key {key.id} expires now; it cannot be exchanged for a token")
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": key.id,
            "iat": issued,
            "nbf": issued,
            "exp": expires,
            "jti": secrets.token_urlsafe(16),
            "scope": " ".join(chosen),
            "env": key.environment,
        }
        signer = self._keys.signer(moment)
        payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
        token = self._encoder.encode(
            payload,
            signer.private_key,
            algorithm=ALGORITHM,
            headers={"kid": signer.kid, "typ": TOKEN_TYPE},
        )
        signing_input, signature = token.rsplit(".", 1)
        return f"{signing_input}.{encode_part(low_s(decode_part(signature, 'signature')))}"

    def verify(self, token: str, now: datetime) -> TokenClaims:
        """The claims of ``token`` if it is ours, intact, for us and valid at ``now``.

        Otherwise :class:`TokenExpired` (intact, but past ``exp``) or
        :class:`TokenInvalid` (anything else), with a reason safe to show and to log.
        """
        moment = aware(now)
        cached = self._verified.get(token) if isinstance(token, str) else None
        if cached is not None:
            return self._recheck(token, cached, moment)
        forged = self._forged.get(token) if isinstance(token, str) else None
        if forged is not None and self._keys.verifying_key(forged[0], moment) is forged[1]:
            # The same bytes failed under the very same key: they fail again.
            raise TokenInvalid(_BAD_SIGNATURE)
        parts = split_token(token)
        kid = check_header(parts.header)
        key = self._keys.verifying_key(kid, moment)
        if key is None:
            raise TokenInvalid(_UNKNOWN_KEY)
        if not is_low_s(parts.signature):
            raise TokenInvalid("the token's signature is not in its low-s form (s <= n/2)")
        if not self._algorithm.verify(parts.signing_input, key.public_key, parts.signature):
            self._remember(self._forged, token, (kid, key))
            raise TokenInvalid(_BAD_SIGNATURE)
        claims = read_claims(json_object(parts.payload, "payload"), kid, self._expected)
        # Remembered before the time checks: they run on every use, so a token that is
        # not yet or no longer valid is refused again without a signature check.
        self._remember(self._verified, token, claims)
        check_time(claims, moment, self._leeway)
        return claims

    def jwks(self, now: datetime) -> Jwks:
        """The public keys that verify tokens at ``now``, for ``/.well-known/jwks.json``."""
        return self._keys.jwks(now)

    def rotate(self, now: datetime, publish_ahead: str | float = 0.0) -> str:
        """Start signing with a new key, from ``now + publish_ahead``; return its ``kid``.

        The keys it supersedes verify for :attr:`retire_after` more, so every token they
        signed lives out its life. With several machines reading one distributed key
        file, ``publish_ahead`` should outlast the distribution, so that every verifier
        holds the new key before the first token it signs.
        """
        try:
            ahead = seconds(publish_ahead, "publish_ahead")
        except InvalidValue as error:
            raise KeyRequestError(str(error)) from None
        new = self._keys.rotate(
            now, retire_after=self.retire_after, publish_ahead=timedelta(seconds=ahead)
        )
        return new.kid

    def _lifetime(self, ttl: str | float) -> int:
        try:
            wanted = seconds(ttl, "ttl")
        except InvalidValue as error:
            raise KeyRequestError(str(error)) from None
        longest = self._expected.max_lifetime.total_seconds()
        if wanted < 1:
            raise KeyRequestError("a token's ttl must be at least one second")
        if wanted > longest:
            raise KeyRequestError(
                f"a token lives at most {format_duration(longest)}; ask for a shorter ttl"
            )
        return math.floor(wanted)

    def _recheck(self, token: str, claims: TokenClaims, now: datetime) -> TokenClaims:
        # The signature and claims of these exact characters were checked already; what
        # may have changed since is the time and whether their signing key still verifies.
        # A time check that fails keeps the entry: it depends on ``now`` alone, and a
        # replay judged at a later time says nothing of the token's validity today.
        if self._keys.verifying_key(claims.kid, now) is None:
            with self._cache_lock:
                self._verified.pop(token, None)
            raise TokenInvalid(_UNKNOWN_KEY)
        check_time(claims, now, self._leeway)
        return claims

    def _remember(self, cache: dict[str, _Entry], token: str, entry: _Entry) -> None:
        if self._cache_size == 0:
            return
        # Readers look up without the lock (a dict lookup is atomic); every change holds it.
        with self._cache_lock:
            if len(cache) >= self._cache_size:
                cache.pop(next(iter(cache)))  # the oldest entry
            cache[token] = entry


def seconds(value: str | float, name: str) -> float:
    """A duration written ``15m`` or as a number of seconds; :class:`InvalidValue` if neither."""
    if isinstance(value, str):
        return parse_duration(value)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidValue(f"{name} must be a duration such as 15m, or a number of seconds")
    if value != value or value in (math.inf, -math.inf):  # NaN, or infinite
        raise InvalidValue(f"{name} must be a duration such as 15m, or a number of seconds")
    if value < 0:
        raise InvalidValue(f"{name} must not be negative")
    if value > MAX_DURATION_SECONDS:  # compared as given: float() of a huge int overflows
        raise InvalidValue(f"{name} must be at most 100 years")
    return float(value)
