"""Building the docs, for the tests of tests/docs that read the built site."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"


def sphinx_build(builder: str, out: Path) -> Path:
    """Build the docs with ``builder``, nitpicky and with warnings as errors, into ``out``."""
    for module in ("sphinx", "myst_parser", "furo", "sphinx_design", "sphinx_copybutton"):
        pytest.importorskip(module)
    command = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", builder]
    build = subprocess.run(
        [*command, "-d", str(out / "doctrees"), str(DOCS), str(out / builder)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout + build.stderr
    return out / builder
