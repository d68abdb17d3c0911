"""``/v1/auth/token`` and ``/.well-known/jwks.json``: keys exchanged for short-lived JWTs,
and the public keys that verify them."""

from __future__ import annotations

from fastapi import APIRouter

from portal.api.deps import CallerDep, ServicesDep
from portal.http.errors import BadRequest
from portal.http.openapi import errors
from portal.models.tokens import Jwks, Token, TokenRequest

router = APIRouter(tags=["tokens"])


@router.post("/v1/auth/token", summary="Exchange a key for a token", responses=errors(400))
def issue_token(
    services: ServicesDep, caller: CallerDep, asked: TokenRequest | None = None
) -> Token:
    """Any valid key may exchange itself for a JWT that carries at most its scopes, lives
    at most an hour and never past the key, and dies with the key."""
    if "." in caller.credential:
        raise BadRequest("present an API key, not a token, to get a token")
    request = asked or TokenRequest()
    tokens = services.engine.tokens
    token = tokens.issue(caller.credential, scopes=request.scopes, ttl=request.ttl)
    claims = tokens.verify(token, services.clock())
    lifetime = claims.expires_at - claims.issued_at
    return Token(
        access_token=token,
        expires_in=int(lifetime.total_seconds()),
        expires_at=claims.expires_at,
        scope=" ".join(claims.scopes),
    )


@router.get("/.well-known/jwks.json", summary="The token signing keys", tags=["tokens"])
def jwks(services: ServicesDep) -> Jwks:
    """The public keys (JWKS, RFC 7517) that verify the tokens this service issues, the
    current one and any that still verify tokens they signed. Needs no key."""
    return Jwks.model_validate(services.engine.tokens.jwks())
