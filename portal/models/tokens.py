"""A key exchanged for a short-lived JWT."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from portal.models.common import Body, Duration, text


class TokenRequest(Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"scopes": ["events:read"], "ttl": "15m"}]}
    )

    scopes: list[Annotated[str, text(200)]] | None = Field(
        default=None,
        max_length=100,
        description="Scopes for the token, each within the key's; all of the key's when absent.",
    )
    ttl: Duration = Field(
        default="15m", description="How long the token lives, such as 15m (at most 1h)."
    )


class Token(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFUzI1NiIsImtpZCI6Ii4uLiJ9.eyJzdWIiOiIuLi4ifQ.c2ln",
                    "token_type": "Bearer",
                    "expires_in": 900,
                    "expires_at": "2026-01-12T10:15:00Z",
                    "scope": "events:read",
                }
            ]
        }
    )

    access_token: str = Field(description="The JWT: send it as Authorization: Bearer <token>.")
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme, not a secret
    expires_in: int = Field(description="Seconds until the token expires.")
    expires_at: datetime
    scope: str = Field(description="The token's scopes, separated by spaces.")


class Jwk(BaseModel):
    kty: str
    crv: str
    x: str
    y: str
    kid: str
    use: str
    alg: str


class Jwks(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "keys": [
                        {
                            "kty": "EC",
                            "crv": "P-256",
                            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
                            "kid": "q3Zf8LmW2xR7cT1v",
                            "use": "sig",
                            "alg": "ES256",
                        }
                    ]
                }
            ]
        }
    )

    keys: list[Jwk]
