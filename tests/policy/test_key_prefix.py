"""``key_prefix:``: a policy set names the prefix of its keys (tDoc's say ``tdoc``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from policyengine.decision import Code
from policyengine.engine import Engine
from policyengine.errors import PolicyError
from policyengine.policy.loader import load_directory, load_texts
from policyengine.request import Request

ROOT = Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
SECRET = "key-prefix-tests-secret-0123456789abcdef"
TYPES = """\
version: 1
key_prefix: acme
routes:
  GET /v1/things: things:read
key_types:
  reader:
    description: Reads things
    scopes: ["things:read"]
"""


def errors(files: dict[str, str]) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        load_texts(files)
    return [str(d) for d in caught.value.diagnostics]


def test_tdocs_policies_name_their_prefix() -> None:
    assert load_directory(POLICIES).key_prefix == "tdoc"


def test_the_engines_keys_carry_the_policy_sets_prefix() -> None:
    with Engine(load_texts({"a.yaml": TYPES}), store="memory://", secret=SECRET) as engine:
        issued = engine.keys.create(type="reader", label="acme", environment="test")
        assert issued.secret.startswith("acme_test_")
        assert issued.key.prefix == "acme_test_"
        asked = Request(credential=issued.secret, method="GET", path="/v1/things")
        assert engine.check(asked).allowed
        tdoc = "tdoc_test_" + issued.secret.removeprefix("acme_test_")
        refused = engine.check(Request(credential=tdoc, method="GET", path="/v1/things"))
        assert refused.code is Code.MALFORMED_CREDENTIAL


@pytest.mark.parametrize(
    ("value", "column"),
    [("Acme", 13), ("a", 13), ("x" * 17, 13), ("1acme", 13), ("ac-me", 13), ("[acme]", 13)],
)
def test_a_prefix_that_cannot_be_one_is_a_positioned_error(value: str, column: int) -> None:
    found = errors({"a.yaml": TYPES.replace("key_prefix: acme", f"key_prefix: {value}")})
    assert len(found) == 1
    assert found[0].startswith(f"a.yaml:2:{column}: key_prefix ")


def test_only_one_file_names_the_prefix() -> None:
    assert errors({"a.yaml": TYPES, "b.yaml": "version: 1\nkey_prefix: acme\n"}) == [
        "b.yaml:2:1: key_prefix is set twice (first at a.yaml:2:1)"
    ]


def test_reload_refuses_to_change_the_prefix_of_a_running_engine(tmp_path: Path) -> None:
    directory = tmp_path / "policies"
    shutil.copytree(POLICIES, directory)
    with Engine.from_directory(directory, store="memory://", secret=SECRET) as engine:
        before = engine.policy_set()
        types = directory / "key_types.yaml"
        types.write_text(types.read_text().replace("key_prefix: tdoc", "key_prefix: acme"))
        with pytest.raises(PolicyError, match="key_prefix"):
            engine.reload()
        assert engine.policy_set() is before
