"""The keyed hash that stores hold instead of a key: HMAC-SHA256 under a server-side secret.

A password needs a slow hash because people choose guessable ones; an API key is 178
random bits, so no amount of fast hashing makes guessing it feasible, and a fast hash
keeps the lookup in microseconds. The server-side secret adds what a plain SHA-256 would
lack: a copy of the store alone does not even let anyone test a candidate key.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from policyengine.errors import ConfigError
from policyengine.private_files import check_private

SECRET_ENV = "POLICYENGINE_SECRET"  # noqa: S105 - the variable's name, not a secret
MIN_SECRET_BYTES = 32


_BLOCK = 64  # SHA-256's block size, which HMAC pads its key to


class KeyHasher:
    """HMAC-SHA256 (RFC 2104) with the key's inner and outer states computed once: a hash
    then costs two state copies and two short updates, a third of ``hmac.digest``."""

    __slots__ = ("_inner", "_outer", "ephemeral")

    def __init__(self, secret: str | bytes, *, ephemeral: bool = False) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        if len(raw) < MIN_SECRET_BYTES:
            raise ConfigError(
                f"the key hashing secret is {len(raw)} bytes long; it needs at least "
                f"{MIN_SECRET_BYTES} (generate one with: python -c 'import secrets; "
                "print(secrets.token_hex(32))')"
            )
        if len(raw) > _BLOCK:
            raw = hashlib.sha256(raw).digest()
        padded = raw.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
        #: Whether the secret was made up for this process, and dies with it.
        self.ephemeral = ephemeral

    def __repr__(self) -> str:
        return "KeyHasher(<secret>)"

    def hash(self, key: str) -> str:
        """The hex HMAC-SHA256 of ``key``: what a store keeps and looks a key up by."""
        return self.digest(key).hex()

    def digest(self, key: str) -> bytes:
        """The HMAC-SHA256 of ``key`` as 32 bytes: what the lookup cache is keyed by."""
        inner = self._inner.copy()
        inner.update(key.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def derive(self, purpose: str) -> bytes:
        """A key of its own for ``purpose`` (``audit``), derived from the secret: HMAC of a
        label that no API key can be (it holds NUL bytes), so the secret itself is used for
        nothing but hashing keys, and one derived key tells nothing of another."""
        return bytes.fromhex(self.hash(f"\0policyengine derived key\0{purpose}"))

    @staticmethod
    def matches(computed: str, stored: str) -> bool:
        """Whether two hashes are equal, in time that does not depend on where they differ."""
        return hmac.compare_digest(computed.encode(), stored.encode())

    @classmethod
    def generate(cls) -> KeyHasher:
        """A hasher with a fresh random secret, for stores that do not outlive the process."""
        return cls(secrets.token_bytes(MIN_SECRET_BYTES), ephemeral=True)

    @classmethod
    def from_file(cls, path: Path) -> KeyHasher:
        """The secret kept in ``path``, created there (readable by its owner only) if absent."""
        if not path.exists():
            _create_secret_file(path)
        return cls(_read_secret_file(path))


def resolve_hasher(
    secret: str | bytes | None,
    *,
    secret_file: Path | None,
    persistent: bool,
    holds_keys: Callable[[], bool] = lambda: False,
) -> KeyHasher:
    """The hasher a store gets: an explicit secret, else ``$POLICYENGINE_SECRET``, else the
    store's own secret file (the embedded SQLite default), else, for a store that dies with
    the process, a random secret."""
    if secret is not None:
        return KeyHasher(secret)
    from_env = os.environ.get(SECRET_ENV)
    if from_env:
        return KeyHasher(from_env)
    if secret_file is not None:
        # A new secret beside a store that already holds keys would silently orphan every
        # one of them; the lost file must be restored instead.
        if not secret_file.exists() and holds_keys():
            raise ConfigError(
                f"the key store holds keys but their hashing secret {secret_file} is missing: "
                f"restore that file, or set {SECRET_ENV} to the secret it held"
            )
        return KeyHasher.from_file(secret_file)
    if not persistent:
        return KeyHasher.generate()
    raise ConfigError(
        f"this key store needs a server-side hashing secret shared by every instance: set "
        f"{SECRET_ENV} (at least {MIN_SECRET_BYTES} characters) or pass secret="
    )


def _create_secret_file(path: Path) -> None:
    # Written to a private temporary file and linked into place, so that a concurrent
    # process sees either no file or a complete one, and the first process to link wins.
    temporary = path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(MIN_SECRET_BYTES) + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process linked first: use its
            os.link(temporary, path)
    except OSError as error:
        raise ConfigError(
            f"cannot create the key hashing secret {path}: {error.strerror}"
        ) from None
    finally:
        temporary.unlink(missing_ok=True)


def _read_secret_file(path: Path) -> str:
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as error:
        raise ConfigError(f"cannot read the key hashing secret {path}: {error.strerror}") from None
    with os.fdopen(descriptor) as file:
        check_private(path, os.fstat(file.fileno()), "the key hashing secret")
        return file.read().strip()
