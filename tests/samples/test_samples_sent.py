"""Every language's sample, run against a loopback echo server, sends exactly the request
the model describes: method, path, query, headers, key and body, tricky characters too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from portal.samples import LANGUAGES, Language, SampleRequest, build, render

from .echo import echo_server
from .runners import run_sample

KEY = "tdoc_test_" + "A1b2" * 7 + "xyz123"
TRICKY = 'It\'s "quoted" $HOME `tick` \\ back ünïcode ✓ {braces} %s #{x}'

REQUESTS = {
    "get-with-query": lambda base: build(
        base, "GET", "/v1/events", query=[("limit", "5"), ("cursor", "a b&c=d")]
    ),
    "post-tricky-body": lambda base: build(
        base,
        "POST",
        "/v1/events",
        headers={"X-Note": TRICKY.encode("ascii", "ignore").decode()},
        body={
            "name": TRICKY,
            "tags": ["a", "b"],
            "count": 3,
            "ok": True,
            "none": None,
            "nested": {"line": "one\ntwo\tthree", "empty": {}},
        },
    ),
    "put-path-params": lambda base: build(
        base,
        "PUT",
        "/v1/events/{id}/members/{user}",
        path_params={"id": "evt/1 x", "user": "ünï"},
        body={"permission": "editor"},
    ),
    "delete-no-key": lambda base: build(
        base, "DELETE", "/v1/hooks/{id}", path_params={"id": "hk_9"}, key_variable=None
    ),
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with echo_server() as base:
        yield base


def expected_echo(request: SampleRequest, base: str) -> dict[str, object]:
    path = request.url.removeprefix(base)
    return {"method": request.method, "path": path, "query": [list(p) for p in request.query]}


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.id)
@pytest.mark.parametrize("name", list(REQUESTS))
def test_sample_sends_what_the_model_describes(
    language: Language, name: str, server: str, tmp_path: Path
) -> None:
    request = REQUESTS[name](server)
    ran = run_sample(language, render(request, language.id), tmp_path, key=KEY)
    assert ran.status == 200
    echoed = json.loads(ran.body)
    assert {k: echoed[k] for k in ("method", "path", "query")} == expected_echo(request, server)
    headers = echoed["headers"]
    if request.key_variable is None:
        assert "authorization" not in headers
    else:
        assert headers["authorization"] == f"Bearer {KEY}"
    for header, value in request.headers:
        assert headers[header.lower()] == value
    if request.body is None:
        assert echoed["body"] == ""
    else:
        assert headers["content-type"] == "application/json"
        assert json.loads(echoed["body"]) == request.body
