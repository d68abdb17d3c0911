"""Run a language's sample as a reader would: save it, run its toolchain, read the status
on its first line and the body on its last. A missing toolchain skips, except under CI."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from portal.samples import Language

#: The command each language's sample runs with, its first word the toolchain it needs.
COMMANDS: dict[str, list[str]] = {
    "curl": ["sh"],
    "python": [sys.executable],
    "javascript": ["node"],
    "go": ["go", "run"],
    "ruby": ["ruby"],
    "php": ["php"],
    "java": ["java"],
}
#: Debian packages that bring each toolchain, for the skip message.
PACKAGES = {
    "curl": "curl",
    "javascript": "nodejs",
    "go": "golang-go",
    "ruby": "ruby",
    "php": "php-cli php-curl",
    "java": "default-jdk-headless",
}


@dataclass(frozen=True)
class Ran:
    status: int
    body: str
    output: str


def require_toolchain(language: Language) -> None:
    tool = COMMANDS[language.id][0]
    needed = ["curl", tool] if language.id == "curl" else [tool]
    missing = [t for t in needed if shutil.which(t) is None]
    if language.id == "php" and not missing:
        probe = subprocess.run(
            ["php", "-r", "exit(function_exists('curl_init') ? 0 : 1);"], check=False
        )
        missing = [] if probe.returncode == 0 else ["php-curl"]
    if missing:
        message = f"{language.label} samples need {', '.join(missing)} (apt-get install {PACKAGES.get(language.id, '')})"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def run_sample(language: Language, code: str, directory: Path, key: str = "") -> Ran:
    require_toolchain(language)
    path = directory / language.filename
    path.write_text(code, encoding="utf-8")
    # Samples talk to loopback only: no proxy, and Go may not fetch modules.
    env = {**os.environ, "TDOC_API_KEY": key, "GOPROXY": "off", "GOFLAGS": "", "NO_PROXY": "*"}
    for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY"):
        env.pop(name, None)
    result = subprocess.run(
        [*COMMANDS[language.id], path.name],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"{language.label} sample failed:\n{code}\n{result.stderr}"
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, f"{language.label} sample printed nothing:\n{result.stderr}"
    first = lines[0].split()
    status = int(first[1] if first[0].startswith("HTTP/") else first[0])
    return Ran(status, lines[-1], result.stdout)
