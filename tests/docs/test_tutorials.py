"""Each tutorial in docs/tutorials, followed as a reader follows it, from the root of a
fresh checkout (a directory holding the bundled ``policies/``), one block after another:

- a block after ``<!-- file: PATH -->`` is written to ``PATH``;
- a ``python`` block runs, in one namespace per page; when the page goes on with
  ``prints`` and a ``text`` block, that is what it must print;
- a page marked ``<!-- needs: postgresql redis -->`` runs where those servers answer
  on their usual local ports (under ``CI=true`` it must);
- a ``console`` block's ``$ `` lines run in a shell, and the lines after each are its
  output: ``…`` within a line stands for any text, and ``...`` alone on a line for any
  number of lines (in what a Python block prints too). ``$ export NAME=tdoc_…`` (any key prefix; or ``=key_…``) sets ``NAME``
  to the last secret (or key id) that a command printed, as a reader copies it from the
  screen; any other ``export`` sets what the shell makes of its value;
- a page marked ``<!-- ports: 8731 8732 -->`` runs with each of those ports replaced,
  throughout, by one that is free, so that two runs at once never meet.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TUTORIALS = ROOT / "docs" / "tutorials"
_BLOCK = re.compile(
    r"(?:^<!-- file: (?P<file>\S+) -->\n)?^(?P<fence>`{3,})(?P<lang>\w*)\n(?P<body>.*?)^(?P=fence)\n",
    re.S | re.M,
)
_SECRET = re.compile(r"\b[a-z][a-z0-9]*_(?:test|live)_[0-9A-Za-z]{36}\b")
_KEY_ID = re.compile(r"\bkey_[0-9A-Za-z]+\b")


@dataclass
class Block:
    line: int
    lang: str
    body: str
    file: str | None


def blocks(page: Path, ports: dict[str, str] | None = None) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    for written, free in (ports or {}).items():
        text = re.sub(rf"(?<!\d){written}(?!\d)", free, text)
    return [
        Block(text.count("\n", 0, m.start("fence")) + 1, m["lang"], m["body"], m["file"])
        for m in _BLOCK.finditer(text)
    ]


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; ``…`` in a line is any text, ``...`` alone any number of lines."""
    if not expected:
        return not actual
    want, rest = expected[0], expected[1:]
    if want == "...":
        return any(matches(rest, actual[i:]) for i in range(len(actual) + 1))
    if not actual:
        return False
    pattern = ".*".join(re.escape(part) for part in want.split("…"))
    return re.fullmatch(pattern, actual[0].rstrip()) is not None and matches(rest, actual[1:])


class Reader:
    """Someone at a shell in the checkout, with the virtual environment active."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.monkeypatch = monkeypatch
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("POLICYENGINE_")}
        self.env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{self.env['PATH']}"
        self.seen = {"secret": "", "key": ""}
        self.status = 0
        self.namespace: dict[str, object] = {}

    def console(self, where: str, body: str) -> None:
        steps: list[tuple[str, list[str]]] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            else:
                steps[-1][1].append(line)
        for command, expected in steps:
            exported = re.fullmatch(r"export (\w+)=(.*?)(?:\s+#.*)?", command)
            if exported:
                name, given = exported[1], exported[2]
                if re.fullmatch(r"[a-z]\w*_…", given):
                    value = self.seen["key" if given == "key_…" else "secret"]
                    assert value, f"{where}: nothing to export yet"
                else:
                    value = self._shell(f"printf %s {given}").stdout
                self.env[name] = value
                # The Python the reader runs next sees it too.
                self.monkeypatch.setenv(name, value)
                continue
            run = self._shell(command)
            self.status = run.returncode
            output = (run.stdout + run.stderr).splitlines()
            assert matches(expected, output), f"{where}: $ {command}\n" + "\n".join(output)
            self.saw(run.stdout)

    def saw(self, output: str) -> None:
        """Note the last secret and the first key id shown, which the reader may copy."""
        secrets = _SECRET.findall(output)
        self.seen["secret"] = secrets[-1] if secrets else self.seen["secret"]
        ids = _KEY_ID.findall(output)
        self.seen["key"] = ids[0] if ids else self.seen["key"]

    def _shell(self, command: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            # ``$?`` is the status of the command before, as in one shell.
            ["bash", "-c", f"(exit {self.status}); {command}"],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    def python(self, where: str, line: int, body: str, page: Path) -> None:
        code = compile("\n" * line + body, str(page), "exec")
        exec(code, self.namespace)


SERVICES = {"postgresql": ("127.0.0.1", 5432), "redis": ("127.0.0.1", 6379)}


def _reachable(service: str) -> bool:
    try:
        socket.create_connection(SERVICES[service], timeout=2).close()
    except OSError:
        return False
    return True


def free_ports(page: Path) -> dict[str, str]:
    """Each port the page names in ``<!-- ports: … -->``, and a free one to use instead."""
    named = re.search(r"^<!-- ports: (.*) -->$", page.read_text(encoding="utf-8"), re.M)
    ports = {}
    with contextlib.ExitStack() as held:  # held together, so that no two are the same
        for written in named[1].split() if named else ():
            listener = held.enter_context(socket.socket())
            listener.bind(("127.0.0.1", 0))
            ports[written] = str(listener.getsockname()[1])
    return ports


def pages() -> list[Path]:
    return sorted(TUTORIALS.glob("*.md"))


@pytest.mark.parametrize("page", pages(), ids=lambda p: p.stem)
def test_the_tutorial_does_what_it_says(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    needs = re.search(r"^<!-- needs: (.*) -->$", page.read_text(encoding="utf-8"), re.M)
    for service in needs[1].split() if needs else ():
        if not _reachable(service):
            if os.environ.get("CI") == "true":
                pytest.fail(f"{page.name} needs {service}, which is not reachable")
            pytest.skip(f"{page.name} needs {service}, which is not reachable")
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("POLICYENGINE_")]:
        monkeypatch.delenv(name)
    monkeypatch.syspath_prepend(str(tmp_path))
    modules = set(sys.modules)
    reader = Reader(tmp_path, monkeypatch)
    try:
        found = blocks(page, free_ports(page))
        for index, block in enumerate(found):
            where = f"{page.relative_to(ROOT)}:{block.line}"
            if block.file is not None:
                target = tmp_path / block.file
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(block.body, encoding="utf-8")
            elif block.lang == "console":
                reader.console(where, block.body)
            elif block.lang == "python":
                capsys.readouterr()
                reader.python(where, block.line, block.body, page)
                printed = capsys.readouterr().out
                shown = found[index + 1] if index + 1 < len(found) else None
                text = page.read_text(encoding="utf-8")
                after = text.splitlines()[block.line + block.body.count("\n") + 1 :]
                reader.saw(printed)
                if shown is not None and shown.lang == "text" and "prints" in after[:3]:
                    expected = shown.body.splitlines()
                    assert matches(expected, printed.splitlines()), f"{where}: printed\n{printed}"
    finally:
        # What the page started in the background (``& echo $! > NAME.pid``) is stopped.
        for pid_file in tmp_path.glob("*.pid"):
            with contextlib.suppress(ValueError, ProcessLookupError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)
    # The reader's own modules (app.py, …) go, so that the next tutorial imports its own.
    for name in set(sys.modules) - modules:
        module_file = getattr(sys.modules[name], "__file__", None) or ""
        if module_file.startswith(str(tmp_path)):
            del sys.modules[name]


def test_every_tutorial_is_in_the_index() -> None:
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    assert [p.stem for p in pages() if f"tutorials/{p.stem}\n" not in index] == []
