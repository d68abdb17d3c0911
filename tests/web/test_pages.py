"""The pages as the server renders them: every operation of the document in the
reference with its scope, parameters, errors and samples; the console's operations; the
samples endpoint; the docs; and no asset from anywhere but the portal."""

from __future__ import annotations

import asyncio
import gc
import re
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from portal.web import DocsSite, pages
from portal.web.docs import DocsApp
from portal.web.reference import read, slug

from .sample_app import sample_app

PAGES = ["/", "/reference", "/console", "/calls", "/keys", "/keys/key_123", "/docs/"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_loads_only_the_portals_own_assets(client: TestClient, path: str) -> None:
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    for url in re.findall(r'(?:src|href)="([^"]+)"', page.text):
        assert not re.match(r"(?:[a-z]+:)?//", url) or url.startswith("http://testserver"), url
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', page.text):
        assert client.get(asset).status_code == 200, asset


def test_reference_shows_every_operation_with_scope_parameters_and_errors(
    client: TestClient,
) -> None:
    html = client.get("/reference").text
    doc = client.get("/openapi.json").json()
    operations = [(m.upper(), p, op) for p, item in doc["paths"].items() for m, op in item.items()]
    assert len(operations) == 4
    for method, path, op in operations:
        anchor = slug(op["operationId"])
        assert f'id="{anchor}"' in html
        assert f"<code>{method} {path}</code>" in html
        assert f"Needs a key with scope <code>{op['x-required-scope']}</code>" in html
    assert 'id="list-widgets-v1-widgets-get--query-limit"' in html
    assert "at least 1; at most 100; default 20" in html
    assert "<code>INSUFFICIENT_SCOPE</code>, <code>DENIED_BY_POLICY</code>" in html
    assert "one of &#34;round&#34;, &#34;square&#34;" in html or 'one of "round", "square"' in html


def test_reference_has_a_sample_in_every_language_for_every_operation(client: TestClient) -> None:
    html = client.get("/reference").text
    assert html.count('role="tabpanel" id="') == 4 * 7
    for lang in ("curl", "python", "javascript", "go", "ruby", "php", "java"):
        assert html.count(f'data-lang="{lang}"') == 2 * 4  # a tab and a panel per operation
    # The widget's example body, from the schema's examples, is in the curl sample.
    assert "Blue widget" in html


def test_console_knows_each_operations_parameters_and_example_body(client: TestClient) -> None:
    html = client.get("/console").text
    data = re.search(
        r'<script type="application/json" id="operations-data">(.*?)</script>', html, re.S
    )
    assert data is not None
    import json

    operations = {op["id"]: op for op in json.loads(data.group(1))}
    create = operations["create_widget_v1_widgets_post"]
    assert create["method"] == "POST"
    assert create["scope"] == "widgets:write"
    assert create["body_example"] == {"name": "Blue widget", "size": 1}
    get = operations["get_widget_v1_widgets__id__get"]
    assert get["parameters"] == [
        {
            "name": "id",
            "in": "path",
            "required": True,
            "description": "The widget's id",
            "type": "string",
            "example": "w1",
        }
    ]


def test_samples_of_a_console_request_carry_no_key(client: TestClient) -> None:
    answer = client.post(
        "/portal/samples",
        json={
            "method": "GET",
            "path": "/v1/widgets/{id}",
            "path_params": {"id": "w 1"},
            "query": [["limit", "3"]],
            "body": None,
        },
    )
    assert answer.status_code == 200
    samples = answer.json()["samples"]
    assert [s["id"] for s in samples] == [
        "curl",
        "python",
        "javascript",
        "go",
        "ruby",
        "php",
        "java",
    ]
    for sample in samples:
        assert "http://testserver/v1/widgets/w%201" in sample["code"]
        assert "TDOC_API_KEY" in sample["code"]
        assert "<span" in sample["html"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"method": "BREW", "path": "/v1/widgets"}, "unknown HTTP method"),
        ({"method": "GET", "path": "/v1/widgets/{id}"}, "path parameter id needs a value"),
        (
            {"method": "GET", "path": "/x", "headers": [["Authorization", "Bearer k"]]},
            "set Authorization",
        ),
        (["not", "an", "object"], "send a JSON object"),
    ],
)
def test_samples_refuse_a_request_they_cannot_write(
    client: TestClient, body: object, message: str
) -> None:
    answer = client.post("/portal/samples", json=body)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "INVALID_REQUEST"
    assert answer.json()["error"]["request_id"].startswith("req_")
    assert message in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    "content",
    [
        b"[" * 10_000 + b"]" * 10_000,
        b'{"method": "POST", "path": "/v1/widgets", "body": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"\xff\xfe",
    ],
)
def test_samples_answer_a_body_they_cannot_read_with_the_error_body(
    client: TestClient, content: bytes
) -> None:
    answer = client.post(
        "/portal/samples",
        content=content,
        headers={"content-type": "application/json", "x-request-id": "req-samples-1"},
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == {
        "code": "INVALID_REQUEST",
        "message": answer.json()["error"]["message"],
        "request_id": "req-samples-1",
    }


def test_samples_refuse_a_request_larger_than_a_person_would_send(client: TestClient) -> None:
    body = {"method": "POST", "path": "/v1/widgets", "body": {"note": "x" * 40_000}}
    answer = client.post("/portal/samples", json=body)
    assert answer.status_code == 413
    error = answer.json()["error"]
    assert error["code"] == "PAYLOAD_TOO_LARGE"
    assert "32768" in error["message"]
    assert error["request_id"].startswith("req_")


def test_samples_are_written_outside_the_event_loop(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    loops: list[bool] = []
    real = pages.samples_for

    def spy(*args: Any) -> Any:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            loops.append(False)
        else:
            loops.append(True)
        return real(*args)

    monkeypatch.setattr(pages, "samples_for", spy)
    answer = client.post("/portal/samples", json={"method": "GET", "path": "/v1/widgets"})
    assert answer.status_code == 200
    assert loops == [False]


def test_docs_say_they_are_not_built_yet_and_then_serve_the_site(tmp_path: Path) -> None:
    site = DocsSite(source=tmp_path / "none", build=tmp_path / "html")
    with TestClient(sample_app(site)) as client:
        pending = client.get("/docs/")
        assert pending.status_code == 503
        assert pending.headers["retry-after"] == "5"
        assert "sphinx-build -b html docs docs/_build/html" in pending.text
        (tmp_path / "html").mkdir()
        (tmp_path / "html" / "index.html").write_text("<h1>Built docs</h1>")
        (tmp_path / "html" / "keys.html").write_text("<h1>Keys</h1>")
        assert "Built docs" in client.get("/docs/").text
        assert "Keys" in client.get("/docs/keys.html").text
        assert client.get("/docs/../pyproject.toml").status_code == 404


def test_docs_are_rebuilt_when_a_source_is_newer(tmp_path: Path) -> None:
    source, build = tmp_path / "docs", tmp_path / "docs" / "_build" / "html"
    build.mkdir(parents=True)
    (source / "conf.py").write_text("")
    (build / "index.html").write_text("old")
    site = DocsSite(source=source, build=build)
    import os

    os.utime(source / "conf.py", (1, 1))
    assert not site.stale()
    (source / "index.md").write_text("# New")
    assert site.stale()
    assert isinstance(DocsApp(site, None), DocsApp)


@pytest.mark.parametrize("path", PAGES)
def test_no_page_gives_two_elements_one_id(client: TestClient, path: str) -> None:
    ids = re.findall(r'\sid="([^"]+)"', client.get(path).text)
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("path", [p for p in PAGES if not p.startswith("/docs")])
def test_every_page_runs_only_the_portals_scripts_and_is_never_framed(
    client: TestClient, path: str
) -> None:
    headers = client.get(path).headers
    directives = (
        part.strip().partition(" ") for part in headers["content-security-policy"].split(";")
    )
    policy = {name: value for name, _, value in directives}
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'none'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy["script-src"] + policy["default-src"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_the_docs_are_never_framed_and_never_sniffed(client: TestClient) -> None:
    headers = client.get("/docs/").headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    asset = client.get("/static/portal.css").headers
    assert asset["x-content-type-options"] == "nosniff"


def test_reference_keeps_nothing_for_each_made_up_host(client: TestClient) -> None:
    # Anyone sets the Host header, and the samples are written for it: a spray of made-up
    # hosts must not leave a set of samples behind for each one.
    def visit(hosts: range) -> None:
        for n in hosts:
            page = client.get("/reference", headers={"host": f"h{n}.example"})
            assert f"http://h{n}.example/v1/widgets" in page.text

    tracemalloc.start()
    try:
        visit(range(10))
        gc.collect()
        before = tracemalloc.take_snapshot()
        visit(range(10, 60))
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 256 * 1024, f"{grown} bytes kept after 50 more made-up hosts"


@pytest.mark.parametrize(
    "base",
    [
        "http://127.0.0.1:8000",
        "https://api.tdoc.example",
        "http://[2001:db8::7]:8443",
        "https://docs.example.com:444/tdoc/api",
    ],
)
def test_samples_written_once_are_those_written_for_the_readers_base(
    client: TestClient, base: str
) -> None:
    reference = read(client.get("/openapi.json").json())
    for op in reference.operations:
        once = [pages.rebased(s, base) for s in pages.operation_samples(pages.SAMPLE_BASE, op)]
        assert once == pages.operation_samples(base, op), op.id


def test_no_host_header_makes_the_reference_write_its_samples_again(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[str] = []
    write = pages.operation_samples

    def counted(base: str, op: Any) -> list[dict[str, Any]]:
        written.append(base)
        return write(base, op)

    monkeypatch.setattr(pages, "operation_samples", counted)
    for n in range(5):
        page = client.get("/reference", headers={"host": f"h{n}.example:8080"})
        assert f"http://h{n}.example:8080/v1/widgets" in page.text
    assert written == [pages.SAMPLE_BASE] * 4  # each of the 4 operations, once


@pytest.mark.parametrize(
    ("url", "server", "shown"),
    [
        ("http://api.tdoc.example/", ("10.0.0.5", 8000), "http://api.tdoc.example"),
        ("https://[2001:db8::7]:8443/", ("::1", 8443), "https://[2001:db8::7]:8443"),
        ("http://evil.example'\"; touch pwned #/", ("10.0.0.5", 8000), "http://10.0.0.5:8000"),
        ("http://evil.example/<script>/", ("::1", 8000), "http://[::1]:8000"),
        ("http://-x.example/", ("10.0.0.5", None), "http://10.0.0.5"),
        ("http://é.example/", None, "http://localhost"),
        ("http://a b/", ("/run/tdoc.sock", None), "http://localhost"),
    ],
)
def test_a_base_no_sample_could_hold_as_it_is_gives_way_to_the_servers_address(
    url: str, server: tuple[str, int | None] | None, shown: str
) -> None:
    assert pages.plain_base(url, server, "http") == shown


def test_the_reference_shows_a_made_up_host_no_sample_could_hold_as_the_servers_address(
    client: TestClient,
) -> None:
    page = client.get("/reference", headers={"host": "-x.example"})
    assert page.status_code == 200
    assert "-x.example" not in page.text
    # The test client's server, with its port.
    assert "http://testserver:80/v1/widgets" in page.text
