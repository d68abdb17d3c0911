from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyengine.errors import ConfigError
from policyengine.keys.format import KeyFormat
from policyengine.keys.hashing import SECRET_ENV, KeyHasher, resolve_hasher

SECRET = "s" * 32
KEY = KeyFormat("tdoc").generate("live")


@pytest.fixture(autouse=True)
def _no_secret_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)


def test_hash_is_a_keyed_hmac_not_a_plain_digest() -> None:
    first = KeyHasher(SECRET).hash(KEY)
    assert len(first) == 64
    assert int(first, 16) >= 0
    assert first == KeyHasher(SECRET).hash(KEY)
    assert first != KeyHasher("t" * 32).hash(KEY)
    assert first != hashlib.sha256(KEY.encode()).hexdigest()


def test_matches_compares_hashes() -> None:
    hasher = KeyHasher(SECRET)
    assert hasher.matches(hasher.hash(KEY), hasher.hash(KEY))
    other = KEY[:-1] + ("x" if KEY[-1] != "x" else "y")
    assert not hasher.matches(hasher.hash(KEY), hasher.hash(other))


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match="at least 32"):
        KeyHasher("too short")


def test_the_hashing_secret_never_shows_in_repr() -> None:
    assert SECRET not in repr(KeyHasher(SECRET))


def test_secret_file_is_created_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "keys.db.secret"
    first = KeyHasher.from_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyHasher.from_file(path).hash(KEY) == first.hash(KEY)
    assert [p.name for p in tmp_path.iterdir()] == ["keys.db.secret"]


def test_concurrent_processes_creating_the_secret_file_agree_on_one(tmp_path: Path) -> None:
    path = tmp_path / "race.secret"
    hashes: list[str] = []
    barrier = threading.Barrier(8)

    def create() -> None:
        barrier.wait()
        hashes.append(KeyHasher.from_file(path).hash(KEY))

    threads = [threading.Thread(target=create) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(hashes)) == 1
    assert len(hashes) == 8


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o666])
def test_a_secret_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keys.db.secret"
    path.write_text("x" * 64)
    os.chmod(path, mode)
    with pytest.raises(ConfigError, match=f"chmod 600 {path}"):
        KeyHasher.from_file(path)


def test_explicit_secret_wins_over_environment_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET_ENV, "e" * 32)
    explicit = resolve_hasher(SECRET, secret_file=tmp_path / "f", persistent=True)
    assert explicit.hash(KEY) == KeyHasher(SECRET).hash(KEY)
    from_env = resolve_hasher(None, secret_file=tmp_path / "f", persistent=True)
    assert from_env.hash(KEY) == KeyHasher("e" * 32).hash(KEY)
    assert not (tmp_path / "f").exists()


def test_a_shared_store_without_a_configured_secret_is_refused() -> None:
    with pytest.raises(ConfigError, match=SECRET_ENV):
        resolve_hasher(None, secret_file=None, persistent=True)


def test_a_store_that_dies_with_the_process_gets_a_random_secret() -> None:
    one = resolve_hasher(None, secret_file=None, persistent=False)
    two = resolve_hasher(None, secret_file=None, persistent=False)
    assert one.hash(KEY) != two.hash(KEY)


def test_a_lost_secret_file_beside_a_store_with_keys_is_not_silently_replaced(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.db.secret"
    with pytest.raises(ConfigError, match="missing: restore that file"):
        resolve_hasher(None, secret_file=path, persistent=True, holds_keys=lambda: True)
    assert not path.exists()


@given(st.binary(min_size=32, max_size=200), st.text(max_size=100))
def test_the_hash_is_hmac_sha256(secret: bytes, key: str) -> None:
    assert KeyHasher(secret).hash(key) == hmac.new(secret, key.encode(), hashlib.sha256).hexdigest()


def test_a_short_secret_is_refused_with_the_command_that_makes_a_good_one() -> None:
    with pytest.raises(ConfigError) as refused:
        KeyHasher("s" * 31)
    assert str(refused.value) == (
        "the key hashing secret is 31 bytes long; it needs at least 32 (generate one with: "
        "python -c 'import secrets; print(secrets.token_hex(32))')"
    )


def test_the_repr_names_the_class_and_hides_the_secret() -> None:
    assert repr(KeyHasher(SECRET)) == "KeyHasher(<secret>)"


def test_only_a_made_up_secret_is_ephemeral(tmp_path: Path) -> None:
    assert KeyHasher(SECRET).ephemeral is False
    assert KeyHasher.generate().ephemeral is True
    assert KeyHasher.from_file(tmp_path / "keys.db.secret").ephemeral is False


def test_a_derived_key_is_the_hmac_of_a_label_no_api_key_can_be() -> None:
    audit = KeyHasher(SECRET).derive("audit")
    label = b"\0policyengine derived key\0audit"
    assert audit == hmac.new(SECRET.encode(), label, hashlib.sha256).digest()
    assert audit != KeyHasher(SECRET).derive("webhooks")


def test_a_new_secret_file_holds_64_hex_digits_ready_to_copy(tmp_path: Path) -> None:
    path = tmp_path / "keys.db.secret"
    hasher = KeyHasher.from_file(path)
    text = path.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}\n", text)
    assert hasher.hash(KEY) == KeyHasher(text.strip()).hash(KEY)


def test_a_secret_file_that_cannot_be_created_says_where_and_why(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "keys.db.secret"
    with pytest.raises(ConfigError) as refused:
        KeyHasher.from_file(path)
    assert str(refused.value) == (
        f"cannot create the key hashing secret {path}: No such file or directory"
    )


def test_a_secret_file_that_is_a_symlink_is_not_followed(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("s" * 64)
    os.chmod(target, 0o600)
    path = tmp_path / "keys.db.secret"
    path.symlink_to(target)
    with pytest.raises(ConfigError) as refused:
        KeyHasher.from_file(path)
    assert str(refused.value) == (
        f"cannot read the key hashing secret {path}: Too many levels of symbolic links"
    )


def test_a_refused_secret_file_is_named_as_the_key_hashing_secret(tmp_path: Path) -> None:
    path = tmp_path / "keys.db.secret"
    path.write_text("x" * 64)
    os.chmod(path, 0o644)
    with pytest.raises(ConfigError) as refused:
        KeyHasher.from_file(path)
    assert str(refused.value).startswith(f"the key hashing secret {path} is open to other users")


def test_a_store_keeps_its_secret_file_from_one_opening_to_the_next(tmp_path: Path) -> None:
    path = tmp_path / "keys.db.secret"
    first = resolve_hasher(None, secret_file=path, persistent=True)
    assert path.exists()
    again = resolve_hasher(None, secret_file=path, persistent=True, holds_keys=lambda: True)
    assert again.hash(KEY) == first.hash(KEY)


@pytest.mark.parametrize("length", [32, 63, 64, 65])
def test_a_secret_at_the_hmac_block_size_hashes_as_hmac_sha256(length: int) -> None:
    """HMAC hashes a key longer than the 64-byte block first, and pads one up to it: the
    edge is exactly the length of a secret file's 64 hex digits."""
    secret = bytes(range(length))
    assert KeyHasher(secret).hash(KEY) == hmac.new(secret, KEY.encode(), hashlib.sha256).hexdigest()
