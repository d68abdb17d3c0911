"""The built site, shared by the tests of tests/docs that read it."""

from __future__ import annotations

from pathlib import Path

import pytest
from sitebuild import sphinx_build


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The HTML site, built once for every test that reads it."""
    return sphinx_build("html", tmp_path_factory.mktemp("site"))
