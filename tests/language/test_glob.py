"""Glob matching (``matches``): what a pattern means, and that no pattern makes it slow."""

from __future__ import annotations

import fnmatch
import subprocess
import sys
import textwrap

import pytest
from hypothesis import given
from hypothesis import strategies as st
from reference import glob as reference_glob

from policyengine.errors import InvalidValue
from policyengine.language.checker import check
from policyengine.language.glob import MAX_PATTERN, compile_glob, glob_matches
from policyengine.language.parser import ConditionError, parse


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("", "", True),
        ("", "*", True),
        ("", "?", False),
        ("a", "", False),
        ("curl/8.5", "curl/*", True),
        ("/v1/events/evt_42", "/v1/*/evt_42", True),
        ("/v1/events/evt_42", "/v1/events/evt_??", True),
        ("/v1/events/evt_4", "/v1/events/evt_??", False),
        ("abcabc", "*abc", True),
        ("abcab", "a*b*c*", True),
        ("aab", "a*ab", True),
        ("ab", "a*ab", False),
        ("x[e]y", "x[e]y", True),
        ("xey", "x[e]y", False),
        ("a?", "a\\?", False),
        ("a\\b", "a\\?", True),
        ("a\\b", "a\\*", True),
        ("line\nbreak", "line*break", True),
        ("line\nbreak", "line?break", True),
        ("ÄÖ", "?Ö", True),
    ],
)
def test_star_is_any_run_and_question_mark_one_character(
    text: str, pattern: str, expected: bool
) -> None:
    assert glob_matches(text, pattern) is expected
    assert compile_glob(pattern)(text) is expected


# fnmatch reads '[' as the start of a class; without it, its globs are ours.
fn_patterns = st.text(st.sampled_from("ab*?/."), max_size=12)
fn_texts = st.text(st.sampled_from("ab/."), max_size=16)


@given(fn_texts, fn_patterns)
def test_globs_agree_with_fnmatch_without_classes(text: str, pattern: str) -> None:
    assert compile_glob(pattern)(text) is fnmatch.fnmatchcase(text, pattern)


@given(st.text(st.sampled_from("ab[]\\*?\n"), max_size=16), st.text(max_size=10))
def test_globs_agree_with_the_reference_interpreter(text: str, pattern: str) -> None:
    pattern = pattern.replace("\x00", "*")
    assert compile_glob(pattern)(text) is reference_glob(text, pattern)


def test_a_pattern_longer_than_the_bound_is_a_policy_error() -> None:
    long = "a" * (MAX_PATTERN + 1)
    with pytest.raises(ConditionError) as caught:
        check(parse(f'key.label matches "{long}"'))
    assert caught.value.offset == 18
    assert f"at most {MAX_PATTERN} characters" in caught.value.message
    check(parse(f'key.label matches "{long[1:]}"'))


def test_a_pattern_read_at_run_time_longer_than_the_bound_is_refused() -> None:
    with pytest.raises(InvalidValue, match=f"at most {MAX_PATTERN} characters"):
        glob_matches("a", "*" * (MAX_PATTERN + 1))
    assert glob_matches("a", "*" * MAX_PATTERN)


ADVERSARIAL = textwrap.dedent(
    """
    from policyengine.language.checker import check
    from policyengine.language.compiler import compile_predicate
    from policyengine.language.glob import MAX_PATTERN, glob_matches
    from policyengine.language.parser import parse
    from policyengine.context import Context
    from policyengine.record import KeyRecord
    from datetime import UTC, datetime

    text = "a" * 100_000
    assert glob_matches(text, "*a*a*a*a*b") is False
    assert glob_matches(text, "*a*a*a*a*a") is True
    assert glob_matches(text + "b", "*a*a*a*a*b") is True
    assert glob_matches(text, "a*" * 200 + "b") is False
    assert glob_matches(text, "*?" * 250 + "b") is False
    assert glob_matches(text, "*" + "a?" * 255 + "b") is False
    assert glob_matches(text, ("*" + "a?" * 60) * 4 + "*b") is False
    assert glob_matches(text, "*" + "a" * 510 + "b") is False
    # The same through a compiled condition, the header as the input.
    tree = check(parse('request.headers["x-long"] matches "*a*a*a*a*b"'), frozenset({"x-long"}))
    rule = compile_predicate(tree, None, "adversarial")
    key = KeyRecord(id="key_1", type="t", label="l", environment="live", prefix="p",
                    last4="abcd", created_at=datetime(2026, 1, 1, tzinfo=UTC))
    request = Context(0, 0.0, "events", "read", headers={"x-long": text})
    assert rule(key, request) is False
    print("ok")
    """
)


def test_adversarial_patterns_take_time_linear_in_the_input() -> None:
    # A backtracking matcher takes hours on these; ours takes well under a second. The
    # budget is enforced by the subprocess's timeout, not by timing an assertion.
    result = subprocess.run(
        [sys.executable, "-c", ADVERSARIAL],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "ok\n"
