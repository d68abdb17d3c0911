"""Policy files are parsed by libyaml when it can, and the nodes, positions and
diagnostics are exactly those of PyYAML's own parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from policyengine.errors import Diagnostic
from policyengine.policy import source
from policyengine.policy.source import Reader

POLICIES = Path(__file__).resolve().parents[2] / "policies"

pytestmark = pytest.mark.skipif(source.FAST_LOADER is None, reason="PyYAML built without libyaml")


def _shape(node: yaml.Node | None) -> Any:
    """Everything a policy reader looks at in a node tree."""
    if node is None:
        return None
    where = (node.start_mark.line, node.start_mark.column, node.start_mark.index)
    end = node.end_mark.index
    if isinstance(node, yaml.ScalarNode):
        # A plain scalar's style is None for PyYAML and "" for libyaml: both mean plain.
        return ("scalar", node.tag, node.value, node.style or None, where, end)
    if isinstance(node, yaml.SequenceNode):
        return ("seq", node.tag, where, end, [_shape(item) for item in node.value])
    assert isinstance(node, yaml.MappingNode)
    pairs = [(_shape(k), _shape(v)) for k, v in node.value]
    return ("map", node.tag, where, end, pairs)


def _composed(text: str, fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[str]]:
    diagnostics: list[Diagnostic] = []
    with monkeypatch.context() as patched:
        if not fast:
            patched.setattr(source, "FAST_LOADER", None)
        root = Reader("p.yaml", text, diagnostics).compose()
    return _shape(root), [str(d) for d in diagnostics]


def test_the_bundled_policies_compose_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    files = sorted(POLICIES.glob("*.yaml"))
    assert files
    for path in files:
        text = path.read_text()
        assert _composed(text, True, monkeypatch) == _composed(text, False, monkeypatch)


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text("abcxyz_", min_size=1, max_size=6), inner, max_size=4),
    ),
    max_leaves=12,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    document=documents,
    flow=st.sampled_from([None, True, False]),
    style=st.sampled_from([None, '"', "'", "|"]),
)
def test_written_yaml_composes_alike(
    document: object, flow: bool | None, style: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = yaml.safe_dump(document, default_flow_style=flow, default_style=style)
    assert _composed(text, True, monkeypatch) == _composed(text, False, monkeypatch)


yaml_ish = st.text(st.sampled_from(list("ab:- \n\t'\"[]{}#&*!|>%@`,?\\\x01é")), max_size=40)


@settings(
    max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=yaml_ish)
def test_any_text_composes_or_is_refused_alike(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # A text libyaml refuses is read again by PyYAML, which words the diagnostic.
    assert _composed(text, True, monkeypatch) == _composed(text, False, monkeypatch)


def test_aliases_and_deep_nesting_are_refused_as_before(monkeypatch: pytest.MonkeyPatch) -> None:
    alias = "a: &x 1\nb: *x\n"
    deep = "a: " + "[" * 70 + "]" * 70 + "\n"
    for text, message in ((alias, "anchors and aliases"), (deep, "nested more than 64")):
        shape, diagnostics = _composed(text, True, monkeypatch)
        assert shape is None
        assert len(diagnostics) == 1
        assert message in diagnostics[0]
        assert _composed(text, False, monkeypatch) == (shape, diagnostics)


BUNDLED = [path.read_text() for path in sorted(POLICIES.glob("*.yaml"))]


@settings(
    max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    which=st.integers(0, len(BUNDLED) - 1),
    at=st.floats(0, 1),
    cut=st.integers(0, 12),
    insert=yaml_ish,
)
def test_a_damaged_policy_file_composes_or_is_refused_alike(
    which: int, at: float, cut: int, insert: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = BUNDLED[which]
    start = int(at * len(text))
    damaged = text[:start] + insert + text[start + cut :]
    assert _composed(damaged, True, monkeypatch) == _composed(damaged, False, monkeypatch)
