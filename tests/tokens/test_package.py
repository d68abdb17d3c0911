"""The package's face: every public name resolves, and an engine without the ``jwt``
extra can still route credentials and is told what to install for tokens."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

import policyengine.tokens as tokens
from policyengine.errors import ConfigError

_WITHOUT_PYJWT = ("policyengine.tokens.compact", "policyengine.tokens.errors")


def test_every_public_name_resolves() -> None:
    for name in tokens.__all__:
        assert getattr(tokens, name) is not None
    with pytest.raises(AttributeError):
        _ = tokens.NoSuchThing


def test_without_pyjwt_routing_works_and_tokens_say_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "jwt", None)
    loaded = [name for name in sys.modules if name.startswith("policyengine.tokens.")]
    for name in loaded:
        if name not in _WITHOUT_PYJWT:
            monkeypatch.delitem(sys.modules, name)
    package = importlib.import_module("policyengine.tokens")
    assert package.looks_like_jwt("eyJ.eyJ.sig")
    with pytest.raises(ConfigError, match=r"pip install 'policyengine\[jwt\]'"):
        _ = package.TokenService


def test_a_name_the_package_does_not_have_is_an_attribute_error_naming_it() -> None:
    with pytest.raises(AttributeError) as missing:
        tokens.nothing_here  # noqa: B018
    assert str(missing.value) == "module 'policyengine.tokens' has no attribute 'nothing_here'"


def test_an_empty_memory_store_holds_an_empty_ring_and_a_file_store_names_its_file(
    tmp_path: Path,
) -> None:
    assert tokens.MemoryKeyStore().load() == ()
    path = tmp_path / "keys.json"
    assert repr(tokens.FileKeyStore(path)) == f"FileKeyStore({str(path)!r})"
