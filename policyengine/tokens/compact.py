"""The compact form of a signed token, ``header.payload.signature``, read strictly.

The checks that cost least come first, so that a hostile credential is refused before
anything is decoded: a length bound, then the shape (three non-empty base64url parts),
then each part must be the one canonical base64url spelling of its bytes (no padding,
no stray low bits in the last character). With its signature in the low-s form, which
the token service alone enforces (it knows the algorithm), a token therefore has exactly
one spelling, and changing any character of it changes what is signed or what is checked.

Nothing here needs PyJWT or ``cryptography``: the engine routes credentials with
:func:`looks_like_jwt` whether or not tokens are enabled.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from policyengine.tokens.errors import TokenInvalid

#: The longest token read at all. Ours are well under 1 KiB; the bound only keeps a
#: hostile credential from costing more than a few microseconds to refuse.
MAX_TOKEN_LENGTH = 8 * 1024

_PART = r"[A-Za-z0-9_-]+"
_SHAPE = re.compile(rf"{_PART}\.{_PART}\.{_PART}")


def looks_like_jwt(credential: str) -> bool:
    """Whether a credential is shaped like a JWT (three base64url parts joined by dots)
    rather than an API key, which never holds a dot.

    Cheap and syntactic, for routing only: verification decides everything else. A
    dotted credential too long to be a token is routed here too, to be refused as one.
    """
    if len(credential) > MAX_TOKEN_LENGTH:
        return credential.count(".") == 2
    return _SHAPE.fullmatch(credential) is not None


@dataclass(frozen=True, slots=True)
class Compact:
    """A token split into its parts; nothing in it is trusted until the signature is."""

    header: dict[str, Any]
    payload: bytes = field(repr=False)
    signing_input: bytes = field(repr=False)
    signature: bytes = field(repr=False)


def split_token(token: str) -> Compact:
    """The parts of ``token``, the header decoded; :class:`TokenInvalid` if malformed."""
    if not isinstance(token, str):
        raise TokenInvalid("the token is not text")
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalid(f"the token is longer than {MAX_TOKEN_LENGTH} characters")
    if _SHAPE.fullmatch(token) is None:
        raise TokenInvalid("the token is not three base64url parts separated by dots")
    header_part, payload_part, signature_part = token.split(".")
    return Compact(
        header=json_object(decode_part(header_part, "header"), "header"),
        payload=decode_part(payload_part, "payload"),
        signing_input=f"{header_part}.{payload_part}".encode("ascii"),
        signature=decode_part(signature_part, "signature"),
    )


def decode_part(text: str, part: str) -> bytes:
    """The bytes a part spells, if it is their canonical unpadded base64url."""
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error:
        raise TokenInvalid(f"the token's {part} is not valid base64url") from None
    if base64.urlsafe_b64encode(data).rstrip(b"=") != text.encode("ascii"):
        raise TokenInvalid(f"the token's {part} is not canonical base64url")
    return data


def encode_part(data: bytes) -> str:
    """Unpadded base64url, as JOSE writes every part and every JWK number."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def json_object(data: bytes, part: str) -> dict[str, Any]:
    """A UTF-8 JSON object with unique member names and no NaN or Infinity."""
    try:
        value = json.loads(
            data.decode("utf-8"),
            object_pairs_hook=_unique_members,
            parse_constant=_no_constants,
        )
    except (ValueError, RecursionError):
        # ValueError covers bad UTF-8, bad JSON, repeated names, and numbers too long to read.
        raise TokenInvalid(f"the token's {part} is not a well-formed JSON object") from None
    if not isinstance(value, dict):
        raise TokenInvalid(f"the token's {part} is not a JSON object")
    return value


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # With a repeated name, which value counts would depend on the parser; refuse instead.
    members = dict(pairs)
    if len(members) != len(pairs):
        raise ValueError("repeated member name")
    return members


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
