"""The API pages of the docs, held to the API: every request they show is sent, in order,
to a fresh server, and what comes back must be what they show.

An example is marked ``<!-- example: http key=TYPE -->`` (``key=none`` for a public
path) on the line before a fenced ``http`` block holding the request; the next fenced
``http`` block is the answer. Ids, times and secrets differ from run to run: an id in the
page stands for the id the server gave where it first appears, a time for any time, a
secret for any secret of the same kind. Everything else must be equal, and an object
must have exactly the fields shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from .conftest import CLIENT, AppFactory, Keys

DOCS = Path(__file__).resolve().parents[2] / "docs"
PAGES = (
    "api.md",
    "api-events.md",
    "api-tasks.md",
    "api-hooks.md",
    "api-keys.md",
    "api-tokens.md",
    "api-decisions.md",
)
_MARK = re.compile(r"^<!-- example: http key=([a-z]+) -->\n```http\n(.*?)^```\n", re.M | re.S)
_ANSWER = re.compile(r"\s*```http\n(.*?)^```\n", re.M | re.S)
_ID = re.compile(r"(evt|tsk|run|hk|key|msg)_[0-9A-Za-z]{20}")
_SECRET = re.compile(r"(tdoc_test_|tdoc_live_|whsec_|eyJ)\S+")
#: The ids the pages give the caller's keys, one of each type.
DOC_KEY_IDS = {
    "admin": "key_9Zt4QmW2xR7cT1vB8nLa",
    "writer": "key_7Hc2LmP9qRt4VwX1yZ3a",
    "reader": "key_3Fq8ZmW1cXv6TbR9kLpD",
    "scoped": "key_5Ns7JdK2qLp9WxV4cMzE",
}
#: Fields whose values are random by nature: a signing key's public numbers and id.
RANDOM_FIELDS = frozenset({"x", "y", "kid", "seq", "latency_us", "policy", "prev", "mac"})
#: Ids the monitor makes (decision records, audit entries): any of the same kind will do.
_OPAQUE = re.compile(r"(dec|aud)_[0-9a-f]+")
_REQUEST_ID = re.compile(r"req_[0-9a-f]{28}|run_[0-9A-Za-z]{20}\.\d+")


@dataclass
class Example:
    line: int
    key: str
    request: str
    answer: str


def examples(page: str) -> Iterator[Example]:
    text = (DOCS / page).read_text()
    for mark in _MARK.finditer(text):
        answer = _ANSWER.match(text, mark.end())
        assert answer is not None, (
            f"{page}: the request at line {text.count(chr(10), 0, mark.start()) + 2} has no answer"
        )
        yield Example(
            text.count("\n", 0, mark.start()) + 2, mark.group(1), mark.group(2), answer.group(1)
        )


def split(message: str) -> tuple[str, dict[str, str], Any]:
    head, _, body = message.partition("\n\n")
    first, *lines = head.splitlines()
    headers = dict(line.split(": ", 1) for line in lines)
    return first, headers, json.loads(body) if body.strip() else None


class Ids:
    """The page's ids and the server's, matched as they first meet."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def put(self, text: str) -> str:
        return _ID.sub(lambda m: self.known.get(m.group(0), m.group(0)), text)

    def match(self, shown: Any, got: Any, where: str) -> None:
        if isinstance(shown, dict):
            assert isinstance(got, dict), where
            assert set(got) == set(shown), f"{where}: fields {sorted(got)} != {sorted(shown)}"
            for name, value in shown.items():
                self.match(value, got[name], f"{where}.{name}")
        elif isinstance(shown, list):
            assert isinstance(got, list), where
            assert len(got) == len(shown), f"{where}: {len(got)} items, the page shows {len(shown)}"
            for index, (value, real) in enumerate(zip(shown, got, strict=True)):
                self.match(value, real, f"{where}[{index}]")
        elif isinstance(shown, str) and _ID.fullmatch(shown):
            assert isinstance(got, str), where
            assert got.split("_")[0] == shown.split("_")[0], f"{where}: {got} for {shown}"
            expected = self.known.setdefault(shown, got)
            assert got == expected, f"{where}: {got}, but {shown} stood for {expected}"
        elif isinstance(shown, str) and _SECRET.fullmatch(shown):
            assert isinstance(got, str), where
            assert got.startswith(_SECRET.fullmatch(shown).group(1)), where  # type: ignore[union-attr]
        elif isinstance(shown, str) and _is_time(shown):
            assert isinstance(got, str), where
            assert _is_time(got), f"{where}: {got!r} is not a time"
        elif isinstance(shown, str) and _REQUEST_ID.fullmatch(shown):
            assert isinstance(got, str), where
        elif isinstance(shown, str) and _OPAQUE.fullmatch(shown):
            assert isinstance(got, str), where
            assert got.split("_")[0] == shown.split("_")[0], f"{where}: {got} for {shown}"
        elif where.rsplit(".", 1)[-1] in RANDOM_FIELDS:
            assert isinstance(got, type(shown)), where
        elif isinstance(shown, float) and where.endswith("duration_ms"):
            assert isinstance(got, int | float), where
        elif isinstance(shown, str):
            assert got == self.put(shown), f"{where}: {got!r}, the page shows {shown!r}"
        else:
            assert got == shown, f"{where}: {got!r}, the page shows {shown!r}"


def _is_time(text: str) -> bool:
    try:
        return datetime.fromisoformat(text).tzinfo is not None
    except ValueError:
        return False


@pytest.mark.parametrize("page", PAGES)
def test_the_pages_requests_answer_what_the_page_shows(
    page: str, make_app: AppFactory, keys: Keys
) -> None:
    secrets = {
        "admin": keys.admin,
        "writer": keys.writer,
        "reader": keys.reader,
        "scoped": keys.scoped,
    }
    ids = Ids()
    for name, key_id in keys.ids.items():
        ids.known[DOC_KEY_IDS[name]] = key_id
    found = list(examples(page))
    assert found, f"{page} shows no request"
    with TestClient(make_app(), client=CLIENT) as client:
        for example in found:
            where = f"{page}:{example.line}"
            line, headers, body = split(ids.put(example.request))
            method, path, _ = line.split()
            sent = {k: v for k, v in headers.items() if k != "Authorization"}
            if example.key != "none":
                sent["Authorization"] = f"Bearer {secrets[example.key]}"
            # What the monitor was handed is written before the next request is shown.
            assert client.app.state.services.engine.monitor.flush(10)  # type: ignore[attr-defined]
            response = client.request(method, path, headers=sent, json=body)
            status_line, shown_headers, shown = split(example.answer)
            assert response.status_code == int(status_line.split()[1]), f"{where}: {response.text}"
            got = response.json() if response.content else None
            ids.match(shown, got, where)
            for name, value in shown_headers.items():
                assert response.headers.get(name) == ids.put(value), f"{where}: {name}"
            _wait_if_a_run(client, secrets[example.key] if example.key != "none" else "", got)


def _wait_if_a_run(client: TestClient, key: str, got: Any) -> None:
    """A page that triggers a run shows it finished next: let it finish first."""
    if isinstance(got, dict) and str(got.get("id", "")).startswith("run_"):
        from .conftest import wait_for_run

        wait_for_run(client, f"/v1/tasks/{got['task_id']}/runs/{got['id']}", key)
