"""Code samples: one request model, written out as curl, Python (httpx), JavaScript
(fetch), Go (net/http), Ruby (Net::HTTP), PHP (curl) and Java (java.net.http).

Plain Python with no web dependency, so that the portal and the Sphinx docs share it::

    from portal.samples import build, render
    request = build("https://api.example", "GET", "/v1/events/{id}", path_params={"id": "e1"})
    print(render(request, "go"))
"""

from __future__ import annotations

from portal.samples.languages import LANGUAGES, Language
from portal.samples.model import KEY_VARIABLE, SampleRequest, build

__all__ = [
    "KEY_VARIABLE",
    "LANGUAGES",
    "Language",
    "SampleRequest",
    "build",
    "language",
    "render",
    "render_all",
]

_BY_ID = {language.id: language for language in LANGUAGES}


def language(language_id: str) -> Language:
    try:
        return _BY_ID[language_id]
    except KeyError:
        known = ", ".join(_BY_ID)
        raise LookupError(f"no samples in {language_id!r}; there are {known}") from None


def render(request: SampleRequest, language_id: str) -> str:
    return language(language_id).render(request)


def render_all(request: SampleRequest) -> dict[str, str]:
    """Every language's sample, in the order of :data:`LANGUAGES`."""
    return {lang.id: lang.render(request) for lang in LANGUAGES}
