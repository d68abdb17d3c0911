"""One HTTP request, described once, from which every language's sample is written.

The key is never part of the model: every sample reads it from an environment variable
(``TDOC_API_KEY`` by default), so a sample can be shown, copied and shared as it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from policyengine.errors import InvalidValue

#: A JSON value: what a request body may be.
JSON = Any

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
KEY_VARIABLE = "TDOC_API_KEY"

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 token: a header's name
_FIELD_VALUE = re.compile(r"[\x20-\x7e]*")
_VARIABLE = re.compile(r"[A-Z_][A-Z0-9_]*")
_PLACEHOLDER = re.compile(r"\{([^{}/]+)\}")
#: Headers the samples set themselves, or that HTTP clients refuse to take from a caller.
_OWN_HEADERS = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "content-type",
        "expect",
        "host",
        "keep-alive",
        "te",
        "transfer-encoding",
        "upgrade",
    }
)


@dataclass(frozen=True, slots=True)
class SampleRequest:
    """``url`` is absolute, path parameters filled in, without a query; ``body`` is the
    JSON to send, or ``None`` for none; ``key_variable`` is ``None`` for a call that
    takes no key."""

    method: str
    url: str
    query: tuple[tuple[str, str], ...] = ()
    headers: tuple[tuple[str, str], ...] = ()
    body: JSON = None
    key_variable: str | None = KEY_VARIABLE

    def __post_init__(self) -> None:
        method = self.method.upper()
        if method not in METHODS:
            raise InvalidValue(f"unknown HTTP method {self.method!r}")
        object.__setattr__(self, "method", method)
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidValue(f"the URL must be absolute http or https, not {self.url!r}")
        if parts.query or parts.fragment or _unsafe(self.url):
            raise InvalidValue("the URL takes no query, fragment, space or control character")
        for name, value in self.headers:
            if not _TOKEN.fullmatch(name):
                raise InvalidValue(f"{name!r} is not a header name")
            if name.lower() in _OWN_HEADERS:
                raise InvalidValue(f"the samples set {name} themselves")
            if not _FIELD_VALUE.fullmatch(value):
                # Clients disagree about anything else (RFC 9110 5.5 calls it obsolete).
                raise InvalidValue(f"the value of header {name} must be printable ASCII")
        for name, value in self.query:
            if _unsafe(name, allow_space=True) or _unsafe(value, allow_space=True):
                raise InvalidValue(f"query parameter {name!r} holds a control character")
        if self.key_variable is not None and not _VARIABLE.fullmatch(self.key_variable):
            raise InvalidValue(f"{self.key_variable!r} is not an environment variable's name")
        if self.body is not None:
            try:
                json.dumps(self.body, ensure_ascii=False, allow_nan=False).encode()
            except (TypeError, ValueError) as error:  # UnicodeError is a ValueError
                raise InvalidValue(f"the body is not JSON: {error}") from None

    @property
    def json_text(self) -> str:
        """The body as compact JSON text, as every sample sends it."""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":"))

    @property
    def full_url(self) -> str:
        return f"{self.url}?{urlencode(self.query)}" if self.query else self.url


def build(
    base_url: str,
    method: str,
    path: str,
    *,
    path_params: Mapping[str, str] | None = None,
    query: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    headers: Iterable[tuple[str, str]] | Mapping[str, str] = (),
    body: JSON = None,
    key_variable: str | None = KEY_VARIABLE,
) -> SampleRequest:
    """A request for the operation at ``path`` (``/v1/events/{id}``), each ``{name}``
    replaced by its value, percent-encoded; every placeholder needs a value."""
    params = dict(path_params or {})

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in params or params[name] == "":
            raise InvalidValue(f"the path parameter {name} needs a value")
        return quote(str(params[name]), safe="")

    if not path.startswith("/"):
        raise InvalidValue(f"the path must start with '/', not {path!r}")
    filled = _PLACEHOLDER.sub(fill, path)
    pairs = query.items() if isinstance(query, Mapping) else query
    header_pairs = headers.items() if isinstance(headers, Mapping) else headers
    return SampleRequest(
        method=method,
        url=base_url.rstrip("/") + filled,
        query=tuple((str(k), str(v)) for k, v in pairs),
        headers=tuple((str(k), str(v)) for k, v in header_pairs),
        body=body,
        key_variable=key_variable,
    )


def _unsafe(text: str, allow_space: bool = False) -> bool:
    """A control character, a lone surrogate (no UTF-8 for it), or a space where none may be."""
    return any(
        ord(c) < 0x20
        or ord(c) == 0x7F
        or 0xD800 <= ord(c) <= 0xDFFF
        or (c == " " and not allow_space)
        for c in text
    )
