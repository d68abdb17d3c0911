"""Signing keys in one private file, shared by every process on a machine that reads it.

The file is JSON: a format marker, a version, and the ring of keys, oldest first, each
a private JWK (RFC 7517) with its ``kid`` and dates. It is guarded like the key hashing
secret (:mod:`policyengine.keys.hashing`):

- it is written whole to a new temporary file, created with ``O_CREAT | O_EXCL`` and
  mode 0600, synced, then renamed over the old one, so a reader sees the old ring or the
  new one and never half of either;
- it is read without following a symbolic link, and refused (:class:`ConfigError`) if it
  is not a regular file, if group or others have any permission on it, or if another
  user owns it;
- writers take an exclusive ``flock`` on ``<file>.lock`` beside it, so two processes
  rotating at once both land their key.

Errors name the file and what is wrong with it, never its content. POSIX only.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

from policyengine.errors import ConfigError
from policyengine.private_files import check_private
from policyengine.tokens.signing import SigningKey
from policyengine.tokens.store import Ring

FORMAT = "policyengine.signing-keys"
VERSION = 1
#: Far above any real ring (a key is about 400 bytes); a bigger file is not ours.
MAX_FILE_BYTES = 1024 * 1024

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class FileKeyStore:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")
        # The bytes last read and the ring they hold: an unchanged file is not parsed again.
        self._cache: tuple[bytes, Ring] | None = None
        if not self.path.parent.is_dir():
            raise ConfigError(
                f"cannot keep signing keys in {self.path}: the directory "
                f"{self.path.parent} does not exist"
            )

    def __repr__(self) -> str:
        return f"FileKeyStore({str(self.path)!r})"

    def load(self) -> Ring:
        data = self._read()
        if data is None:
            return ()
        cached = self._cache
        if cached is not None and cached[0] == data:
            return cached[1]
        ring = _decode(data, self.path)
        self._cache = (data, ring)
        return ring

    def update(self, change: Callable[[Ring], Ring]) -> Ring:
        with self._exclusive():
            ring = change(self.load())
            data = _encode(ring)
            self._write(data)
            self._cache = (data, ring)
            return ring

    def _read(self) -> bytes | None:
        try:
            descriptor = os.open(self.path, os.O_RDONLY | _NOFOLLOW)
        except FileNotFoundError:
            return None
        except OSError as error:
            raise ConfigError(_cannot("read", self.path, error)) from None
        with os.fdopen(descriptor, "rb") as file:
            check_private(self.path, os.fstat(file.fileno()), "the signing key file")
            data = file.read(MAX_FILE_BYTES + 1)
        if len(data) > MAX_FILE_BYTES:
            raise ConfigError(
                f"the signing key file {self.path} is larger than {MAX_FILE_BYTES} bytes; "
                "it is not a policyengine signing key file"
            )
        return data

    def _write(self, data: bytes) -> None:
        temporary = self.path.with_name(f".{self.path.name}.{secrets.token_hex(8)}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW
        try:
            descriptor = os.open(temporary, flags, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self.path)
            _sync_directory(self.path.parent)
        except OSError as error:
            raise ConfigError(_cannot("write", self.path, error)) from None
        finally:
            temporary.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        try:
            descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600)
        except OSError as error:
            raise ConfigError(_cannot("lock", self._lock_path, error)) from None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)  # which releases the lock


def _cannot(action: str, path: Path, error: OSError) -> str:
    if error.errno == errno.ELOOP:
        return f"cannot {action} {path}: it is a symbolic link; name the file itself"
    return f"cannot {action} {path}: {error.strerror}"


def _sync_directory(directory: Path) -> None:
    # Makes the rename itself durable; some platforms cannot open a directory, which is
    # no reason to fail a rotation that has already happened.
    with contextlib.suppress(OSError):
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def _encode(ring: Ring) -> bytes:
    document = {
        "format": FORMAT,
        "version": VERSION,
        "keys": [key.to_record() for key in ring],
    }
    return (json.dumps(document, indent=2) + "\n").encode("utf-8")


def _decode(data: bytes, path: Path) -> Ring:
    try:
        document = json.loads(data.decode("utf-8"))
    except ValueError:
        raise ConfigError(f"the signing key file {path} is not valid JSON") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ConfigError(f"{path} is not a policyengine signing key file")
    if document.get("version") != VERSION:
        raise ConfigError(
            f"the signing key file {path} has a format version this policyengine does not "
            f"read (it reads version {VERSION})"
        )
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ConfigError(f"the signing key file {path} has no list of 'keys'")
    ring = []
    for number, entry in enumerate(entries, start=1):
        try:
            ring.append(SigningKey.from_record(entry))
        except ValueError as error:
            raise ConfigError(f"the signing key file {path}, key {number}: {error}") from None
    return tuple(ring)
