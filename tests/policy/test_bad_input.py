"""Policy files that are wrong in hostile ways: huge numbers, deep nesting, bytes that are
not UTF-8, files too big to read. Each gets a PolicyError naming the file and position,
in bounded time, never a traceback; and a reload keeps the old set and raises the same."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyengine.engine import Engine
from policyengine.errors import Diagnostic, PolicyError
from policyengine.policy.files import MAX_FILE_BYTES
from policyengine.policy.loader import FILE_KEYS, load_directory, load_texts
from policyengine.policy.read_key_types import KEY_TYPE_KEYS

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
NINES = "9" * 5000

TYPE = """\
version: 1
resources:
  events: [read]
key_types:
  reader:
    description: Reads
    scopes: ["events:read"]
"""


def diagnostics(files: dict[str, str]) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_texts(files)
    return [str(d) for d in caught.value.diagnostics]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"    rate_limit: {NINES}/minute", "p.yaml:8:17: invalid rate"),
        (f"    rate_limit: 10/{NINES}m", "p.yaml:8:17: invalid rate"),
        (f"    rate_limit: {{limit: {NINES}, per: minute}}", "p.yaml:8:25: limit is too large"),
        (
            f"    rate_limit: {{limit: 10, per: minute, burst: {NINES}}}",
            "p.yaml:8:49: burst is too large",
        ),
        (f"    max_lifetime: {NINES}d", "p.yaml:8:19: invalid duration"),
        ("    max_lifetime: 99999999999999999999w", "p.yaml:8:19: duration"),
        (f"    usage: {{credits: {NINES}}}", "p.yaml:8:22: credits is too large"),
        ("    rate_limit: 1/99999999999999999999999s", "p.yaml:8:17: a rate limit's period"),
        ("    rate_limit: 99999999999999999999/second", "p.yaml:8:17: a rate limit admits"),
    ],
)
def test_a_huge_number_is_a_positioned_error(line: str, expected: str) -> None:
    found = diagnostics({"p.yaml": TYPE + line + "\n"})
    assert len(found) == 1
    assert found[0].startswith(expected), found


def test_a_number_too_long_for_int_in_a_condition_is_a_positioned_error() -> None:
    rule = f"rules:\n  - name: big\n    effect: deny\n    reason: x\n    when: 1 < {NINES}\n"
    found = diagnostics({"p.yaml": TYPE + rule})
    assert len(found) == 1
    assert found[0].startswith("p.yaml:12:15: ")
    assert "too large" in found[0]


def test_a_huge_version_number_is_a_positioned_error() -> None:
    found = diagnostics({"p.yaml": f"version: {NINES}\n"})
    assert found[0].startswith("p.yaml:1:10: ")


@pytest.mark.parametrize(
    "text",
    [
        "version: 1\nkey_types: " + "[" * 5000 + "]" * 5000 + "\n",
        "version: 1\nkey_types: " + "{a: " * 5000 + "1" + "}" * 5000 + "\n",
        "version: 1\nkey_types:\n" + "".join(" " * i + f"k{i}:\n" for i in range(2000)),
        "version: 1\nrules:\n" + "".join(" " * (2 * i) + "- \n" for i in range(300)),
    ],
)
def test_yaml_nested_thousands_deep_is_a_positioned_error(text: str) -> None:
    found = diagnostics({"p.yaml": text})
    assert len(found) == 1
    assert "nested more than" in found[0]
    assert found[0].startswith("p.yaml:")
    assert not found[0].startswith("p.yaml:1:1:")


def test_a_file_that_is_not_utf8_is_an_error_at_the_byte(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_bytes(b"version: 1\ndescription: caf\xe9\n")
    with pytest.raises(PolicyError) as caught:
        load_directory(tmp_path)
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{tmp_path / 'bad.yaml'}:2:17: the file is not UTF-8 text (byte 0xe9)"
    ]


def test_a_file_too_large_is_refused_before_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = tmp_path / "big.yaml"
    with big.open("w") as file:
        file.write("version: 1\ndescription: |\n")
        line = "  " + "x" * 1022 + "\n"
        for _ in range(10 * 1024):
            file.write(line)

    def never(*args: object, **kwargs: object) -> object:
        raise AssertionError("the parser was called")

    monkeypatch.setattr(yaml, "parse", never)
    monkeypatch.setattr(yaml, "compose_all", never)
    started = time.monotonic()
    with pytest.raises(PolicyError) as caught:
        load_directory(tmp_path)
    assert time.monotonic() - started < 2
    assert [str(d) for d in caught.value.diagnostics] == [
        f"{big}: the file is {big.stat().st_size:,} bytes long; a policy file may be "
        f"at most {MAX_FILE_BYTES:,} (split it into several files)"
    ]


def test_reload_keeps_the_old_set_and_raises_the_loaders_error(tmp_path: Path) -> None:
    directory = tmp_path / "policies"
    shutil.copytree(POLICIES, directory)
    with Engine.from_directory(directory, store="memory://", maintenance_interval=None) as engine:
        before = engine.policy_set()
        (directory / "bad.yaml").write_bytes(b"version: 1\nkey_types: " + b"[" * 3000 + b"\n")
        with pytest.raises(PolicyError) as reloaded:
            engine.reload()
        with pytest.raises(PolicyError) as loaded:
            load_directory(directory)
        assert str(reloaded.value) == str(loaded.value)
        assert engine.policy_set() is before


# -- fuzzing ------------------------------------------------------------------------------

WORDS = [*FILE_KEYS, *KEY_TYPE_KEYS, "reader", "events:read", "from_key", "minute", "deny"]
SCALARS = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["9" * 5000, "1e999", "-0", "0x1F", "10/minute", "30d", "'", '"', "~"]),
    st.sampled_from(WORDS),
    st.text(max_size=30),
)


@st.composite
def yamlish(draw: st.DrawFn, depth: int = 0) -> str:
    """Text shaped like a policy file: keys, flow and block collections, odd scalars."""
    if depth > 3 or draw(st.booleans()):
        return draw(SCALARS)
    kind = draw(st.sampled_from(["map", "seq", "flow", "deep"]))
    if kind == "deep":
        n = draw(st.integers(min_value=1, max_value=400))
        return "[" * n + draw(SCALARS) + "]" * draw(st.integers(min_value=0, max_value=n))
    items = draw(st.lists(yamlish(depth + 1), max_size=4))
    if kind == "flow":
        return "[" + ", ".join(items) + "]"
    indent = "  " * (depth + 1)
    if kind == "seq":
        return "".join(f"\n{indent}- {item}" for item in items)
    keys = draw(st.lists(st.sampled_from(WORDS), min_size=len(items), max_size=len(items)))
    return "".join(f"\n{indent}{key}: {item}" for key, item in zip(keys, items, strict=True))


@st.composite
def policy_texts(draw: st.DrawFn) -> str:
    body = "".join(
        f"{key}: {draw(yamlish())}\n" for key in draw(st.lists(st.sampled_from(WORDS), max_size=5))
    )
    return draw(st.sampled_from(["", "version: 1\n"])) + body


def only_positioned_errors(load: Callable[..., object], *args: object) -> None:
    """``load(*args)`` loads, or raises a PolicyError whose every problem has a place."""
    problems: list[Diagnostic] = []
    try:
        load(*args)
    except PolicyError as error:
        problems = error.diagnostics
        assert problems
    for diagnostic in problems:
        assert diagnostic.location.line >= 1
        assert diagnostic.location.column >= 1
        assert diagnostic.message


FUZZ = settings(
    deadline=timedelta(seconds=5),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FUZZ
@given(policy_texts())
def test_any_yamlish_text_loads_or_is_a_positioned_policy_error(text: str) -> None:
    only_positioned_errors(load_texts, {"p.yaml": text})


@FUZZ
@given(st.text())
def test_any_text_loads_or_is_a_positioned_policy_error(text: str) -> None:
    only_positioned_errors(load_texts, {"p.yaml": text})


@FUZZ
@given(st.binary(max_size=2000))
def test_any_bytes_load_or_are_a_positioned_policy_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as temporary:
        Path(temporary, "p.yaml").write_bytes(data)
        only_positioned_errors(load_directory, temporary)
