"""Finding leaked keys in files, the way GitHub's secret scanning finds its tokens: by the
key format and its checksum, so that random text that merely looks like a key is not
reported. Binary files, huge files and version-control internals are skipped."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from policyengine.keys.format import KeyFormat
from policyengine.record import Environment

#: Files larger than this are skipped: keys live in source and configuration, not in dumps.
MAX_FILE_BYTES = 5 * 1024 * 1024
#: A NUL byte in the first this many bytes marks a file as binary.
_SNIFF_BYTES = 8192
_SKIPPED_DIRECTORIES = frozenset({".git", ".hg", ".svn"})


@dataclass(frozen=True, slots=True)
class Finding:
    path: Path
    line: int
    column: int
    environment: Environment
    #: The key itself; shown only masked, never printed whole.
    secret: str = field(repr=False)

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Skipped:
    path: Path
    reason: str


@dataclass(slots=True)
class ScanResult:
    findings: list[Finding] = field(default_factory=list)
    #: Files under a directory that were not scanned (binary, huge, unreadable).
    skipped: list[Skipped] = field(default_factory=list)
    #: Paths named to the scan that could not be read at all: an error, not a skip, or a
    #: typo in a CI job would pass for an all-clear.
    unreadable: list[Skipped] = field(default_factory=list)
    files: int = 0


def scan_paths(
    paths: Iterable[str | Path], key_format: KeyFormat, *, max_bytes: int = MAX_FILE_BYTES
) -> ScanResult:
    """Every well-formed key in the files under ``paths``, in path and line order."""
    result = ScanResult()
    for path, named in _files(paths, result):
        result.files += 1
        try:
            findings = scan_file(path, key_format, max_bytes=max_bytes)
        except _Unreadable as error:
            (result.unreadable if named else result.skipped).append(Skipped(path, str(error)))
            continue
        except _Skip as skip:
            result.skipped.append(Skipped(path, str(skip)))
            continue
        result.findings.extend(findings)
    return result


def scan_file(
    path: Path, key_format: KeyFormat, *, max_bytes: int = MAX_FILE_BYTES
) -> list[Finding]:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise _Skip(f"larger than {_size(max_bytes)}")
        data = path.read_bytes()
    except OSError as error:
        raise _Unreadable(error.strerror or str(error)) from None
    if b"\0" in data[:_SNIFF_BYTES]:
        raise _Skip("binary")
    # Latin-1 maps every byte to one character, so any file decodes and a key (ASCII)
    # keeps its byte offsets: columns are right whatever the file's real encoding.
    text = data.decode("latin-1")
    findings = []
    for number, line in enumerate(text.split("\n"), start=1):
        for found in key_format.find_keys(line):
            findings.append(Finding(path, number, found.start + 1, found.environment, found.text))
    return findings


class _Skip(Exception):
    """A file that is not scanned, and why."""


class _Unreadable(_Skip):
    """A file that cannot be read."""


def _size(count: int) -> str:
    mebibytes, rest = divmod(count, 1024 * 1024)
    return f"{mebibytes} MiB" if mebibytes and not rest else f"{count} bytes"


def _files(paths: Iterable[str | Path], result: ScanResult) -> Iterator[tuple[Path, bool]]:
    """Each file to scan, and whether it was named itself (rather than found in a walk)."""
    for given in paths:
        path = Path(given)
        if path.is_file():
            yield path, True
        elif path.is_dir():
            yield from ((found, False) for found in _walk(path))
        elif path.exists():
            result.unreadable.append(Skipped(path, "not a file or a directory"))
        else:
            result.unreadable.append(Skipped(path, "no such file or directory"))


def _walk(top: Path) -> Iterator[Path]:
    # Symbolic links to directories are not followed: they can loop, or lead out of the tree.
    for directory, subdirectories, names in os.walk(top, followlinks=False):
        subdirectories[:] = sorted(d for d in subdirectories if d not in _SKIPPED_DIRECTORIES)
        for name in sorted(names):
            path = Path(directory, name)
            if path.is_file():
                yield path
