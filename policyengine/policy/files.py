"""Which files of a directory are policy files and which are test suites, and reading
their text: refused before it is parsed when it is too large (checked before reading it)
or not UTF-8 (at the first byte that is not), with a diagnostic."""

from __future__ import annotations

from pathlib import Path

from policyengine.errors import Diagnostic, Location

#: A larger policy file is refused before it is read: ten thousand rules fit in 2 MB.
MAX_FILE_BYTES = 4 * 1024 * 1024


def is_test_file(path: Path) -> bool:
    return path.stem.endswith("_test")


def policy_files(directory: Path) -> list[Path]:
    return sorted(
        p
        for p in directory.rglob("*")
        if p.suffix in (".yaml", ".yml") and p.is_file() and not is_test_file(p)
    )


def test_files(directory: Path) -> list[Path]:
    return sorted(
        p for p in directory.rglob("*_test.y*ml") if p.is_file() and p.suffix in (".yaml", ".yml")
    )


def read_file(path: Path, diagnostics: list[Diagnostic]) -> str | None:
    """The text of a policy (or suite) file; ``None``, with a diagnostic, when it is too
    large (checked before reading) or not UTF-8 (at the first bad byte)."""
    where = str(path)
    try:
        size = path.stat().st_size
        if size <= MAX_FILE_BYTES:
            with path.open("rb") as file:
                data = file.read(MAX_FILE_BYTES + 1)  # a file that grew meanwhile is caught
            size = len(data)
    except OSError as error:
        diagnostics.append(Diagnostic(Location.whole(where), f"cannot read: {error.strerror}"))
        return None
    if size > MAX_FILE_BYTES:
        diagnostics.append(
            Diagnostic(
                Location.whole(where),
                f"the file is {size:,} bytes long; a policy file may be at most "
                f"{MAX_FILE_BYTES:,} (split it into several files)",
            )
        )
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        before = data[: error.start].decode("utf-8")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        message = f"the file is not UTF-8 text (byte 0x{data[error.start]:02x})"
        diagnostics.append(Diagnostic(Location(where, line, column), message))
        return None
