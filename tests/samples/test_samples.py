"""The sample generator: what each language's sample says for a few requests, literals
that keep any text exact, and a request model that refuses what no sample could send."""

from __future__ import annotations

import ast
import json
import re
import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyengine.errors import InvalidValue
from portal.samples import LANGUAGES, build, language, render, render_all
from portal.samples import literals as lit

BASE = "https://api.tdoc.example"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(), children, max_size=3)
    ),
    max_leaves=10,
)
texts = st.text(st.characters(exclude_categories=("Cs",)))


def test_every_language_has_a_sample_for_the_same_request() -> None:
    request = build(BASE, "GET", "/v1/events/{id}", path_params={"id": "evt_42"})
    samples = render_all(request)
    assert list(samples) == ["curl", "python", "javascript", "go", "ruby", "php", "java"]
    for code in samples.values():
        assert f"{BASE}/v1/events/evt_42" in code
        assert "TDOC_API_KEY" in code


def test_curl_sample_of_a_post() -> None:
    request = build(BASE, "POST", "/v1/events", body={"name": "Launch"})
    assert render(request, "curl") == (
        f"curl -sS -i -X POST '{BASE}/v1/events' \\\n"
        '  -H "Authorization: Bearer $TDOC_API_KEY" \\\n'
        "  -H 'Content-Type: application/json' \\\n"
        '  --data-raw \'{\n  "name": "Launch"\n}\'\n'
    )


def test_python_sample_is_valid_python_with_the_body_as_a_literal() -> None:
    request = build(
        BASE,
        "PATCH",
        "/v1/events/{id}",
        path_params={"id": "e1"},
        body={"public": True, "venue": None},
    )
    code = render(request, "python")
    tree = ast.parse(code)
    call = next(
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "request"
    )
    body = next(k.value for k in call.keywords if k.arg == "json")
    assert ast.literal_eval(body) == {"public": True, "venue": None}
    assert "os.environ['TDOC_API_KEY']" in code


def test_go_sample_without_body_imports_only_what_it_uses() -> None:
    code = render(build(BASE, "GET", "/v1/tasks", key_variable=None), "go")
    assert '"strings"' not in code
    assert '"os"' not in code
    assert 'http.NewRequest("GET", "https://api.tdoc.example/v1/tasks", nil)' in code


def test_java_and_ruby_name_the_method_their_way() -> None:
    request = build(BASE, "DELETE", "/v1/hooks/{id}", path_params={"id": "hk_1"})
    assert 'method("DELETE", HttpRequest.BodyPublishers.noBody())' in render(request, "java")
    assert "Net::HTTP::Delete.new(uri)" in render(request, "ruby")
    assert "CURLOPT_CUSTOMREQUEST => 'DELETE'" in render(request, "php")


def test_query_with_a_repeated_name_keeps_every_value() -> None:
    request = build(BASE, "GET", "/v1/events", query=[("tag", "a"), ("tag", "b")])
    assert "?tag=a&tag=b" in render(request, "curl")
    assert 'params=[("tag", "a"), ("tag", "b")]' in render(request, "python")


def test_path_parameters_are_percent_encoded() -> None:
    request = build(BASE, "GET", "/v1/events/{id}", path_params={"id": "a/b c"})
    assert request.url == f"{BASE}/v1/events/a%2Fb%20c"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "BREW"}, "unknown HTTP method"),
        ({"base_url": "ftp://x"}, "absolute http"),
        ({"path": "v1/events"}, "must start with '/'"),
        ({"path": "/v1/events/{id}"}, "path parameter id needs a value"),
        ({"headers": {"Authorization": "Bearer x"}}, "set Authorization themselves"),
        ({"headers": {"Bad Name": "x"}}, "not a header name"),
        ({"headers": {"X-A": "line\r\nInjected: 1"}}, "printable ASCII"),
        ({"query": {"q": "a\nb"}}, "control character"),
        ({"body": {"x": float("nan")}}, "not JSON"),
        ({"body": {"x": object()}}, "not JSON"),
        ({"key_variable": "TDOC KEY; rm -rf"}, "environment variable"),
    ],
)
def test_a_request_no_sample_could_send_is_refused(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"base_url": BASE, "method": "GET", "path": "/v1/events", **kwargs}
    with pytest.raises(InvalidValue, match=re.escape(message)):
        build(**args)  # type: ignore[arg-type]


def test_an_unknown_language_is_named_with_the_known_ones() -> None:
    with pytest.raises(LookupError, match="there are curl, python"):
        language("cobol")
    assert [lang.id for lang in LANGUAGES] == list(render_all(build(BASE, "GET", "/")))


@given(json_values)
def test_python_literal_reads_back_as_the_same_value(value: object) -> None:
    assert ast.literal_eval(lit.python(value)) == value


@given(texts)
def test_shell_quoting_reads_back_as_one_word(text: str) -> None:
    assert shlex.split(f"curl {lit.shell(text)}") == ["curl", text]


@given(texts)
def test_double_quoted_reads_back_in_json_and_python(text: str) -> None:
    literal = lit.double_quoted(text)
    assert json.loads(literal) == text
    assert ast.literal_eval(literal) == text
    assert "\\u000a" not in literal.lower()
    assert "\\u000d" not in literal.lower()


@given(texts)
def test_single_quoted_reads_back_as_ruby_and_php_read_it(text: str) -> None:
    literal = lit.single_quoted(text)
    assert literal[0] == literal[-1] == "'"
    inner = literal[1:-1]
    # Ruby and PHP single quotes: \\ is one backslash, \' one quote, anything else is itself.
    assert re.sub(r"\\([\\'])", r"\1", inner) == text
    assert re.search(r"(?<!\\)(?:\\\\)*'", inner) is None


@given(texts)
def test_go_string_is_raw_only_when_raw_is_exact(text: str) -> None:
    literal = lit.go_string(text)
    if literal.startswith("`"):
        assert literal == f"`{text}`"
        assert "\r" not in text
    else:
        assert json.loads(literal) == text
