"""Store, limiter and Redis URLs fit for a message: every credential in them replaced.

A URL can carry a secret in three places, and each is redacted:

- the password of its user information, ``postgresql://app:<password>@db/main`` (the
  user name stays: it helps, and it is not a secret);
- a query parameter whose name says it holds a secret (``password``, ``passwd``,
  ``sslpassword``, ``token``, ``secret``, anything with ``pass``, ``pwd``, ``secret``,
  ``token``, ``key``, ``auth`` or ``credential`` in its name, in any case);
- the same parameters in a PostgreSQL ``key=value`` connection string, quoted or not.

:func:`redact` is for the URL itself; :func:`scrub` for any other text that may repeat
what the URL holds, such as a driver's error message. A webhook URL can carry its secret
in its path as well, which this rule keeps (a file path is needed in a message): it is
shown by :mod:`policyengine.monitor.hook_urls`, which builds on this one.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

HIDDEN = "***"

_SECRET_NAME = re.compile(r"pass|pwd|secret|token|key|auth|credential", re.IGNORECASE)
_QUERY_PAIR = re.compile(r"(?P<name>[^&=#]*)=(?P<value>[^&#]*)")
# libpq's key = value syntax: a value is a single-quoted string (with \' and \\) or a word.
_CONNINFO_PAIR = re.compile(
    r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?P<equals>\s*=\s*)(?P<value>'(?:[^'\\]|\\.)*'?|[^\s']*)",
    re.DOTALL,
)


def redact(url: object) -> str:
    """``url`` with every secret it holds replaced by ``***``."""
    text = str(url)
    scheme, separator, rest = text.partition("://")
    if not separator:
        return _CONNINFO_PAIR.sub(_hide_pair, text) if "=" in text else text
    # The user information ends at the last '@': a password written without
    # percent-encoding may hold '@', '/', '?' or '#', and must never be cut short. When
    # an '@' sits in a query value instead, more is hidden than needed, never less.
    at = rest.rfind("@")
    colon = rest.find(":", 0, at) if at > 0 else -1
    start = 0
    if colon >= 0:
        rest = f"{rest[: colon + 1]}{HIDDEN}{rest[at:]}"
        start = colon + 1 + len(HIDDEN)
    query = _query_start(rest, start)
    return f"{scheme}://{rest[:query]}{_QUERY_PAIR.sub(_hide_pair, rest[query:])}"


def secret_named(name: str) -> bool:
    """Whether a parameter called ``name`` holds a secret, by the rule :func:`redact` uses."""
    return _SECRET_NAME.search(name) is not None


def scrub(text: object, url: object) -> str:
    """``text`` with every secret that ``url`` holds replaced by ``***``, wherever it
    appears: raw, percent-decoded or unquoted."""
    return RedactedUrl(url).scrub(text)


class RedactedUrl:
    """A URL as it may be shown, and the secrets to keep out of any text about it, for a
    component that reports on its URL long after it was given (its repr is the redacted
    URL; the URL itself is not kept)."""

    __slots__ = ("_secrets", "shown")

    def __init__(self, url: object) -> None:
        self.shown = redact(url)
        self._secrets = tuple(sorted(_secrets(str(url)), key=len, reverse=True))

    def scrub(self, text: object) -> str:
        """``text`` (an error, say) with every secret of the URL replaced by ``***``."""
        shown = str(text)
        for secret in self._secrets:
            shown = shown.replace(secret, HIDDEN)
        return shown

    def __str__(self) -> str:
        return self.shown

    def __repr__(self) -> str:
        return f"RedactedUrl({self.shown!r})"


def _query_start(rest: str, start: int = 0) -> int:
    found = [i for i in (rest.find("?", start), rest.find("#", start)) if i >= 0]
    return min(found) if found else len(rest)


def _hide_pair(pair: re.Match[str]) -> str:
    if not secret_named(pair["name"]):
        return pair[0]
    return f"{pair['name']}{pair.groupdict().get('equals') or '='}{HIDDEN}"


def _secrets(url: str) -> set[str]:
    """Every secret ``url`` may hold, however a driver might have read it."""
    found: set[str] = set()
    _, separator, rest = url.partition("://")
    if separator:
        at = rest.rfind("@")
        colon = rest.find(":", 0, at) if at > 0 else -1
        if colon >= 0:
            found.add(rest[colon + 1 : at])
        # As a URL parser reads it: the host begins after the last '@' before the path.
        authority = rest[: min(_query_start(rest), _find(rest, "/"))]
        user_info = authority.rpartition("@")[0]
        if ":" in user_info:
            found.add(user_info.partition(":")[2])
        pairs = _QUERY_PAIR.finditer(rest[_query_start(rest) :])
    else:
        pairs = _CONNINFO_PAIR.finditer(url)
    for pair in pairs:
        if _SECRET_NAME.search(pair["name"]):
            value = pair["value"]
            if value.startswith("'"):
                value = re.sub(r"\\(.)", r"\1", value[1:].removesuffix("'"))
            found.add(value)
    return {form for raw in found if raw for form in (raw, unquote(raw), unquote_plus(raw)) if form}


def _find(text: str, char: str) -> int:
    found = text.find(char)
    return found if found >= 0 else len(text)
