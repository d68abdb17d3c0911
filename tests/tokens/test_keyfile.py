"""Signing keys in a private file: created private, refused when not, and shared by every
service that opens it."""

from __future__ import annotations

import json
import os
import stat
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from policyengine.decision import Code
from policyengine.errors import ConfigError
from policyengine.tokens import FileKeyStore, SigningKeys, TokenService, keyfile

from .conftest import AUDIENCE, GRANTED, ISSUER, NOW, b64, key_record, parts, refused

RETIRE = {"retire_after": timedelta(hours=1)}


def open_service(path: Path, **options: float) -> TokenService:
    keys = SigningKeys(FileKeyStore(path), now=NOW, **options)  # type: ignore[arg-type]
    return TokenService(keys, ISSUER, AUDIENCE)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_key_file_and_its_lock_are_created_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "signing-keys.json"
    service = open_service(path)
    assert mode(path) == 0o600
    service.rotate(NOW)
    assert mode(path) == 0o600
    assert mode(tmp_path / "signing-keys.json.lock") == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "signing-keys.json",
        "signing-keys.json.lock",
    ]


def test_key_file_is_private_even_under_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        open_service(tmp_path / "keys.json")
    finally:
        os.umask(previous)
    assert mode(tmp_path / "keys.json") == 0o600


def test_two_services_on_one_file_share_keys_and_rotation(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    one, two = open_service(path), open_service(path)
    token = one.issue(key_record(), GRANTED, None, "15m", NOW)
    assert two.verify(token, NOW).key_id == key_record().id
    new_kid = one.rotate(NOW)
    # The other service learns the new key from the file when a token names it ...
    fresh = one.issue(key_record(), GRANTED, None, "15m", NOW)
    assert two.verify(fresh, NOW).kid == new_kid
    # ... and signs with it from its next token on.
    assert parts(two.issue(key_record(), GRANTED, None, "15m", NOW))[0]["kid"] == new_kid
    assert two.verify(token, NOW).kid == parts(token)[0]["kid"]


def test_a_retirement_in_one_process_reaches_another(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    one, two = open_service(path), open_service(path, refresh_interval=0)
    token = one.issue(key_record(), GRANTED, None, "15m", NOW)
    two.verify(token, NOW)
    one.rotate(NOW)
    SigningKeys(FileKeyStore(path)).retire(parts(token)[0]["kid"], NOW)
    refused(two, token, Code.TOKEN_INVALID)


def test_a_key_file_survives_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    token = open_service(path).issue(key_record(), GRANTED, None, "15m", NOW)
    assert open_service(path).verify(token, NOW).key_id == key_record().id


def test_concurrent_rotations_all_land(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    open_service(path)
    rings = [SigningKeys(FileKeyStore(path), max_keys=64) for _ in range(8)]
    new: list[str] = []
    threads = [
        threading.Thread(target=lambda ring=ring: new.append(ring.rotate(NOW, **RETIRE).kid))
        for ring in rings
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(new) <= set(SigningKeys(FileKeyStore(path)).kids)
    assert len(SigningKeys(FileKeyStore(path)).kids) == 9


@pytest.mark.parametrize("permissions", [0o640, 0o604, 0o660, 0o620, 0o601, 0o644])
def test_a_key_file_open_to_other_users_is_refused(tmp_path: Path, permissions: int) -> None:
    path = tmp_path / "keys.json"
    open_service(path)
    path.chmod(permissions)
    with pytest.raises(ConfigError) as caught:
        open_service(path)
    assert str(caught.value) == (
        f"the signing key file {path} is open to other users (mode {permissions:o}); "
        f"run: chmod 600 {path}"
    )


def test_a_symbolic_link_is_refused(tmp_path: Path) -> None:
    real = tmp_path / "real.json"
    open_service(real)
    link = tmp_path / "link.json"
    link.symlink_to(real)
    with pytest.raises(ConfigError) as caught:
        open_service(link)
    assert str(caught.value) == f"cannot read {link}: it is a symbolic link; name the file itself"


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        FileKeyStore(tmp_path / "absent" / "keys.json")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not json", "the signing key file {path} is not valid JSON"),
        (b"[]", "{path} is not a policyengine signing key file"),
        (
            b'{"format": "something-else", "version": 1, "keys": []}',
            "{path} is not a policyengine signing key file",
        ),
        (
            b'{"format": "policyengine.signing-keys", "version": 2, "keys": []}',
            "the signing key file {path} has a format version this policyengine does not "
            "read (it reads version 1)",
        ),
        (
            b'{"format": "policyengine.signing-keys", "version": 1, "keys": {}}',
            "the signing key file {path} has no list of 'keys'",
        ),
        (
            b'{"format": "policyengine.signing-keys", "version": 1, "keys": [{"kid": "x"}]}',
            "the signing key file {path}, key 1: 'jwk' must be a private EC key on P-256",
        ),
        (
            b" " * (1024 * 1024 + 1),
            "the signing key file {path} is larger than 1048576 bytes; it is not a "
            "policyengine signing key file",
        ),
        (b" " * (1024 * 1024), "the signing key file {path} is not valid JSON"),
    ],
)
def test_a_file_that_is_not_a_key_file_is_refused_saying_why(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "keys.json"
    write_private(path, content)
    with pytest.raises(ConfigError) as caught:
        open_service(path)
    assert str(caught.value) == reason.format(path=path)


def test_the_second_bad_key_of_a_file_is_named_by_its_place(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    open_service(path)
    document = json.loads(path.read_text())
    document["keys"].append({"kid": "x"})
    path.unlink()
    write_private(path, json.dumps(document).encode())
    with pytest.raises(ConfigError) as caught:
        open_service(path)
    assert str(caught.value) == (
        f"the signing key file {path}, key 2: 'jwk' must be a private EC key on P-256"
    )


def test_a_key_file_is_indented_json_a_person_can_read(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    open_service(path)
    text = path.read_text()
    assert text.startswith('{\n  "format": "policyengine.signing-keys",\n')
    assert text.endswith("}\n")


def test_errors_about_a_key_never_quote_its_private_part(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    open_service(path)
    document = json.loads(path.read_text())
    private = document["keys"][0]["jwk"]["d"]
    document["keys"][0]["jwk"]["d"] = private[:-4] + "!!!!"
    document["keys"][0]["jwk"]["crv"] = "P-256"
    path.unlink()
    write_private(path, json.dumps(document).encode())
    with pytest.raises(ConfigError) as caught:
        open_service(path)
    assert private[:-4] not in str(caught.value)


def test_a_ring_whose_newest_key_is_retired_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    open_service(path)
    document = json.loads(path.read_text())
    document["keys"][-1]["retires_at"] = NOW.isoformat()
    path.unlink()
    write_private(path, json.dumps(document).encode())
    with pytest.raises(ConfigError) as caught:
        open_service(path)
    assert str(caught.value) == "the newest signing key in the store is marked as retired"


def test_a_kid_in_a_token_is_never_used_as_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.json"
    service = open_service(path)
    opened: list[str] = []
    real_open = os.open

    def recording_open(file: str | os.PathLike[str], *args: int) -> int:
        opened.append(os.fspath(file))
        return real_open(file, *args)

    monkeypatch.setattr(os, "open", recording_open)
    for kid in ("../../etc/passwd", "Zz9_Zz9-Zz9_Zz9-"):
        header, claims, signature = parts(service.issue(key_record(), GRANTED, None, "1m", NOW))
        forged = f"{b64({**header, 'kid': kid})}.{b64(claims)}.{signature}"
        refused(service, forged, Code.TOKEN_INVALID)
    assert set(opened) <= {str(path)}


def write_private(path: Path, content: bytes) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)


def test_a_key_file_that_cannot_be_written_says_which_and_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "keys.json"
    keys = SigningKeys(FileKeyStore(path), now=NOW)
    # A temporary file already where the next write would put its own: the write fails.
    monkeypatch.setattr(keyfile.secrets, "token_hex", lambda _: "0" * 16)
    (tmp_path / ".keys.json.0000000000000000.tmp").write_text("")
    with pytest.raises(ConfigError) as caught:
        keys.rotate(NOW, **RETIRE)
    assert str(caught.value) == f"cannot write {path}: File exists"
