"""A webhook URL as it is read back or logged: where it goes, without what lets one post.

Whoever learns a hook's whole URL can post to its receiver, and many receivers take their
credential in the path, not in a query parameter named like a secret: Slack
(``/services/T…/B…/<token>``), Discord (``/api/webhooks/<id>/<token>``), Microsoft
Teams (``/webhookb2/<GUID>@<GUID>/IncomingWebhook/<hex>/…``), Power Automate
(``/workflows/<hex>/…?sig=<token>``), Zapier (``/hooks/catch/<account>/<id>/``),
Mattermost and Rocket.Chat (``/hooks/<id>``), a home-made ``/webhooks/<random>``. So a
webhook URL is shown by this rule, on top of :func:`~policyengine.redaction.redact`'s:

- the scheme, host and port stay, so that one still sees where a hook goes; a user name
  or password is hidden whole (``***@``): a token is often given as the user name;
- a path segment or a query value is ``***`` when it could be a credential: 16
  characters or more (percent-decoded), unless it is made of lower-case words (``a-z``)
  joined by ``-``, ``_`` or ``.``, none of 16 letters or more. Random tokens (base62,
  base64url, hex, GUIDs, long numeric ids) never read as such words; people's names for
  their paths (``/hooks/tdoc``, ``/v1/events``, ``/incoming-webhook``) mostly do, and a
  long name that does not (``/workflowTriggers``) is hidden: more than needed, never less;
- a query value named like a secret (``token``, ``key``, ``secret``, ``pass``, …) is
  ``***`` whatever it holds, as :func:`~policyengine.redaction.redact` has it, and a
  fragment is ``***`` whole (none is ever sent);
- on the receivers known to carry short secrets, every segment after their fixed prefix
  is ``***`` however short: ``hooks.slack.com/<kind>/``, Discord's ``/api/webhooks/``,
  ``hooks.zapier.com/hooks/<kind>/``, Teams' ``*.webhook.office.com/<kind>/`` and
  ``outlook.office.com/webhook/``, ``maker.ifttt.com/<kind>/``. Elsewhere a random
  segment shorter than 16 characters cannot be told from a name, and is shown.

The rule hides; it does not parse to deliver (:mod:`policyengine.monitor.targets` does), so
it takes any text, and shows a reference without ``scheme://`` (a redirect's ``/next``)
as a path.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

from policyengine.redaction import HIDDEN, RedactedUrl, redact, secret_named

#: A name people give a path: lower-case words joined by - _ or ., each under 16 letters.
_WORDS = re.compile(r"[a-z]{1,15}(?:[-_.][a-z]{1,15})*")
#: Shorter than this, a segment or value is a name, a number or a version, and shown.
MIN_TOKEN = 16
#: Shorter than this, a hidden value is not searched for in other text (an error): "7"
#: would garble every message it appears in, and tells nothing on its own.
_MIN_SCRUBBED = 6
_QUERY_PAIR = re.compile(r"(?P<name>[^&=;]*)(?P<equals>=?)(?P<value>[^&;]*)")

#: Receivers whose every segment after a fixed prefix is, or leads to, a credential:
#: a host (whole) and the prefix of its path that stays (save a token-like segment in it).
_RECEIVERS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = tuple(
    (re.compile(host, re.IGNORECASE), re.compile(prefix, re.IGNORECASE))
    for host, prefix in (
        (r"hooks\.slack\.com", r"/[^/]+/"),
        (r"(?:[a-z0-9-]+\.)?discord(?:app)?\.com", r"/api(?:/v\d+)?/webhooks/"),
        (r"hooks\.zapier\.com", r"/hooks/[^/]+/"),
        (r"[a-z0-9-]+\.webhook\.office\.com", r"/[^/]+/"),
        (r"outlook\.office(?:365)?\.com", r"/webhook(?:b2)?/"),
        (r"maker\.ifttt\.com", r"/[^/]+/"),
    )
)


def redact_hook_url(url: object) -> str:
    """``url`` as a hook's URL is read back and logged: every part that could be a
    credential (its user information, path tokens, token-like or secret-named query
    values, its fragment) replaced by ``***``."""
    return _redacted(str(url))[0]


class RedactedHookUrl(RedactedUrl):
    """:class:`~policyengine.redaction.RedactedUrl` for a webhook URL: ``shown`` by
    :func:`redact_hook_url`, and :meth:`scrub` takes out of any text (an error, a
    redirect's ``Location``) every part that rule hides."""

    __slots__ = ()

    def __init__(self, url: object) -> None:
        super().__init__(url)
        self.shown, secrets = _redacted(str(url))
        self._secrets = tuple(sorted({*self._secrets, *secrets}, key=len, reverse=True))


def looks_like_a_token(text: str) -> bool:
    """Whether a path segment or query value could be a credential (see the module)."""
    return any(
        len(form) >= MIN_TOKEN and not _WORDS.fullmatch(form)
        for form in (text, unquote(text), unquote_plus(text))
    )


def _redacted(url: str) -> tuple[str, set[str]]:
    hidden: set[str] = set()
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    rest, has_fragment, fragment = rest.partition("#")
    rest, has_query, query = rest.partition("?")
    # As a URL parser reads it: the authority ends at the first '/'.
    path_at = _find(rest, "/") if separator else 0
    authority, path = rest[:path_at], rest[path_at:]
    user_info, at, host_port = authority.rpartition("@")
    if at:
        hidden.add(user_info)
        authority = f"{HIDDEN}@{host_port}"
    shown = f"{scheme}{separator}{authority}{_path(_host(host_port), path, hidden)}"
    if has_query:
        shown += "?" + _QUERY_PAIR.sub(lambda pair: _pair(pair, hidden), query)
    if has_fragment:
        hidden.add(fragment)
        shown += "#" + (HIDDEN if fragment else "")
    found = {form for raw in hidden for form in (raw, unquote(raw), unquote_plus(raw))}
    # redact() once more: a password holding '/' ends where its last '@' is, not its first '/'.
    return redact(shown), {secret for secret in found if len(secret) >= _MIN_SCRUBBED}


def _path(host: str, path: str, hidden: set[str]) -> str:
    # On a known receiver, every segment after the prefix; anywhere, any token-like one.
    every_from = len(path.split("/"))
    for known_host, prefix in _RECEIVERS:
        matched = prefix.match(path) if known_host.fullmatch(host) else None
        if matched is not None:
            every_from = matched[0].count("/")
            break
    segments = path.split("/")
    for index, segment in enumerate(segments):
        if segment and (index >= every_from or looks_like_a_token(segment)):
            hidden.add(segment)
            segments[index] = HIDDEN
    return "/".join(segments)


def _pair(pair: re.Match[str], hidden: set[str]) -> str:
    name, equals, value = pair["name"], pair["equals"], pair["value"]
    if not equals:  # a bare ``?<token>``: a value without a name
        name, value = "", name
    if value and (secret_named(name) or looks_like_a_token(value)):
        hidden.add(value)
        value = HIDDEN
    return f"{name}{equals}{value}"


def _host(host_port: str) -> str:
    if host_port.startswith("["):
        return host_port.partition("]")[0] + "]"
    return host_port.partition(":")[0].rstrip(".")  # hooks.slack.com. is hooks.slack.com


def _find(text: str, char: str) -> int:
    found = text.find(char)
    return found if found >= 0 else len(text)
