"""The calls of docs/calling-the-api.md: the page's curl samples, as the docs render them,
answer 2xx from a live ``policyengine serve``, and every language has a tab."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from portal.samples import LANGUAGES, SampleRequest, build, render

PAGE = Path(__file__).resolve().parents[2] / "docs" / "calling-the-api.md"
_DIRECTIVE = re.compile(r"^:::\{api-samples\} (\S+) (\S+)\n((?::[\w-]+: .*\n)*):::$", re.M)
_OPTION = re.compile(r"^:([\w-]+): (.*)$", re.M)


def calls(base_url: str) -> list[tuple[str, SampleRequest]]:
    """Each call on the page, as the directive builds it, against ``base_url``."""
    found = []
    for match in _DIRECTIVE.finditer(PAGE.read_text(encoding="utf-8")):
        options = {name: json.loads(value) for name, value in _OPTION.findall(match[3])}
        request = build(
            base_url,
            match[1],
            match[2],
            path_params=options.get("path-params"),
            query=options.get("query") or (),
            body=options.get("body"),
        )
        found.append((f"{match[1]} {match[2]}", request))
    return found


def test_the_page_says_how_to_run_each_language() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for language in LANGUAGES:
        assert f"| `{language.filename}` | `{language.run}` |" in text, language.id


def test_the_page_shows_its_calls_in_every_language(site: Path) -> None:
    shown = calls("http://127.0.0.1:8000")
    assert len(shown) >= 5
    page = (site / "calling-the-api.html").read_text(encoding="utf-8")
    for language in LANGUAGES:
        assert page.count(f'data-sync-id="{language.id}"') == len(shown), language.id
    # The generated program, word for word: the directive adds nothing of its own.
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for _, request in shown:
        assert render(request, "java") in text


def test_the_curl_samples_answer_from_a_live_server(tmp_path: Path) -> None:
    from tdoc.served import serve

    if shutil.which("curl") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("curl is not installed")
        pytest.skip("curl is not installed")
    with serve(tmp_path) as served:
        admin = served.admin_key  # full-access: every call on the page is within it
        assert admin is not None
        created_task = ""
        for name, request in calls(served.url):
            if "{id}" in name:  # the task the page created before
                assert created_task, name
                request = build(
                    served.url, "POST", "/v1/tasks/{id}/runs", path_params={"id": created_task}
                )
            script = tmp_path / "call.sh"
            script.write_text(render(request, "curl"), encoding="utf-8")
            ran = subprocess.run(
                ["sh", str(script)],
                env={**os.environ, "TDOC_API_KEY": admin},
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            status = ran.stdout.splitlines()[0] if ran.stdout else ran.stderr
            assert re.match(r"HTTP/\S+ 2\d\d", status), f"{name}: {ran.stdout}{ran.stderr}"
            if name == "POST /v1/tasks":
                # Text mode reads curl's CRLF as LF: the body follows the first empty line.
                created_task = json.loads(ran.stdout.split("\n\n", 1)[1])["id"]
