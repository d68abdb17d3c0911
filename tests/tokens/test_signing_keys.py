"""A signing key as a store keeps it, and the key set's settings: every refusal names the
member or setting at fault, and dates hold to their exact edges."""

from __future__ import annotations

import json
import math
import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from policyengine.errors import ConfigError, KeyRequestError
from policyengine.tokens.keyfile import FileKeyStore
from policyengine.tokens.keyring import SigningKeys
from policyengine.tokens.signing import SigningKey
from policyengine.tokens.store import MemoryKeyStore

from .conftest import NOW


def record(**changes: Any) -> dict[str, Any]:
    written = SigningKey.generate(NOW).retiring(NOW + timedelta(hours=1)).to_record()
    written.update(changes)
    return written


def test_a_key_read_back_is_the_key_written_dates_and_all() -> None:
    key = SigningKey.generate(NOW, NOW + timedelta(minutes=5)).retiring(NOW + timedelta(hours=1))
    written = key.to_record()
    assert written["retires_at"] == "2026-11-26T13:00:00+00:00"
    again = SigningKey.from_record(written)
    assert again == key
    assert again.retires_at == NOW + timedelta(hours=1)
    assert SigningKey.generate(NOW).to_record()["retires_at"] is None


def test_retiring_keeps_an_earlier_or_equal_retirement() -> None:
    key = SigningKey.generate(NOW).retiring(NOW)
    assert key.retiring(NOW).retires_at == NOW
    assert key.retiring(NOW + timedelta(seconds=1)) is key
    assert key.retiring(NOW - timedelta(seconds=1)).retires_at == NOW - timedelta(seconds=1)


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ([], "a key entry must be a JSON object"),
        (record(jwk={"kty": "RSA", "crv": "P-256"}), "'jwk' must be a private EC key on P-256"),
        (record(jwk={"kty": "EC", "crv": "P-384"}), "'jwk' must be a private EC key on P-256"),
        (
            record(jwk={"kty": "EC", "crv": "P-256", "x": "!"}),
            "'jwk' does not hold a valid private key",
        ),
        (
            record(jwk={k: v for k, v in record()["jwk"].items() if k != "d"}),
            "'jwk' holds no private key ('d')",
        ),
        (record(kid=7), "'kid' must be a string"),
        (record(kid="short"), "a kid is 16 base64url characters"),
        (
            record(created_at="2026-11-26T12:00:00"),
            "'created_at' must be an ISO 8601 date and time with a timezone",
        ),
        (
            record(signs_from=1764158400),
            "'signs_from' must be an ISO 8601 date and time with a timezone",
        ),
        (
            record(retires_at="tomorrow"),
            "'retires_at' must be an ISO 8601 date and time with a timezone",
        ),
    ],
)
def test_a_bad_key_entry_is_refused_naming_the_member_at_fault(entry: Any, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)) as refused:
        SigningKey.from_record(entry)
    assert str(refused.value) == reason


def test_a_signing_key_without_timezones_is_refused() -> None:
    key = SigningKey.generate(NOW)
    with pytest.raises(ValueError, match="timezone") as refused:
        SigningKey(key.kid, key.private_key, NOW.replace(tzinfo=None), NOW)
    assert str(refused.value) == "a signing key's dates must carry a timezone"


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        *(
            (
                {"max_keys": value},
                "max_keys must be a whole number of at least 2: the key that signs and the "
                "one it replaced",
            )
            for value in (1, True, 2.0)
        ),
        *(
            ({"refresh_interval": value}, "refresh_interval must be a number of seconds, 0 or more")
            for value in (-1, math.inf, math.nan, True, "1s")
        ),
    ],
)
def test_a_key_set_setting_it_cannot_honour_is_a_config_error(
    settings: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        SigningKeys(now=NOW, **settings)
    assert str(refused.value) == reason


def test_the_smallest_settings_are_allowed() -> None:
    keys = SigningKeys(max_keys=2, refresh_interval=0, now=NOW)
    keys.rotate(NOW, retire_after=timedelta(0))
    assert len(keys.jwks(NOW)["keys"]) == 1


def test_a_negative_rotation_is_refused() -> None:
    keys = SigningKeys(now=NOW)
    for options in (
        {"retire_after": timedelta(seconds=-1)},
        {"retire_after": timedelta(0), "publish_ahead": timedelta(seconds=-1)},
    ):
        with pytest.raises(KeyRequestError) as refused:
            keys.rotate(NOW, **options)
        assert str(refused.value) == "retire_after and publish_ahead must not be negative"


def test_a_key_published_ahead_signs_only_from_then() -> None:
    keys = SigningKeys(now=NOW)
    first = keys.signer(NOW)
    new = keys.rotate(NOW, retire_after=timedelta(hours=1), publish_ahead=timedelta(minutes=5))
    assert (new.created_at, new.signs_from) == (NOW, NOW + timedelta(minutes=5))
    assert keys.signer(NOW + timedelta(minutes=4)).kid == first.kid
    assert keys.signer(NOW + timedelta(minutes=5)).kid == new.kid


def test_a_new_key_set_signs_from_the_moment_it_is_told() -> None:
    keys = SigningKeys(now=NOW)
    first = keys.signer(NOW)
    assert (first.created_at, first.signs_from) == (NOW, NOW)


def test_a_key_set_keeps_eight_keys_by_default() -> None:
    keys = SigningKeys(now=NOW)
    for _ in range(10):
        keys.rotate(NOW, retire_after=timedelta(days=1))
    assert len(keys.jwks(NOW)["keys"]) == 8


def test_a_key_file_holding_one_kid_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    SigningKeys(FileKeyStore(path), now=NOW)
    document = json.loads(path.read_text())
    document["keys"].append(document["keys"][0])
    path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(json.dumps(document))
    with pytest.raises(ConfigError) as refused:
        SigningKeys(FileKeyStore(path), now=NOW)
    assert str(refused.value) == "the signing key store holds two keys with one kid"


def test_a_signing_key_off_the_p256_curve_is_refused() -> None:
    key = SigningKey.generate(NOW)
    with pytest.raises(ValueError, match="curve") as refused:
        SigningKey(key.kid, ec.generate_private_key(ec.SECP384R1()), NOW, NOW)
    assert str(refused.value) == "a signing key is an elliptic curve key on P-256"


def test_a_key_file_emptied_under_a_running_key_set_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keys = SigningKeys(FileKeyStore(path), now=NOW)
    document = json.loads(path.read_text())
    document["keys"] = []
    path.unlink()
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(json.dumps(document))
    with pytest.raises(ConfigError) as refused:
        keys.refresh()
    assert str(refused.value) == "the signing key store holds no keys"


def test_a_retirement_in_another_process_reaches_this_one_after_one_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    monkeypatch.setattr("policyengine.tokens.keyring.time.monotonic", lambda: clock[0])
    store = MemoryKeyStore()
    here = SigningKeys(store, now=NOW)  # the default refresh_interval
    elsewhere = SigningKeys(store, now=NOW)
    old = here.signer(NOW)
    elsewhere.rotate(NOW, retire_after=timedelta(0))
    elsewhere.retire(old.kid, NOW)
    clock[0] += 0.999
    assert here.verifying_key(old.kid, NOW) is old
    clock[0] += 0.001
    assert here.verifying_key(old.kid, NOW) is None
