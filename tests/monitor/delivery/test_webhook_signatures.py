"""Standard Webhooks signatures: our signer is read by the reference library, and our
verifier agrees with that library on every delivery, good or tampered."""

from __future__ import annotations

import base64
import time

import pytest
import standardwebhooks
from hypothesis import given
from hypothesis import strategies as st

from policyengine.monitor.webhooks import (
    SignatureError,
    WebhookSecretError,
    generate_secret,
    secret_key,
    sign,
    signed_headers,
    verify,
)

# The example from the Standard Webhooks specification's reference libraries.
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def library_accepts(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        standardwebhooks.Webhook(secret).verify(body, headers, json_parse=False)
    except standardwebhooks.WebhookVerificationError:
        return False
    return True


def we_accept(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    try:
        verify(secret, body, headers)
    except SignatureError:
        return False
    return True


def test_signature_matches_the_specification_example() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    verify(SPEC_SECRET, SPEC_BODY, headers, now=SPEC_TIMESTAMP + 10)


def test_new_secret_is_whsec_and_32_random_bytes_of_base64() -> None:
    first, second = generate_secret(), generate_secret()
    assert first.startswith("whsec_")
    assert first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32
    assert len(secret_key(generate_secret(24))) == 24


def test_the_reference_library_verifies_our_signed_headers() -> None:
    secret = generate_secret()
    body = b'{"type":"alert.raised","data":{"key":"key_1"}}'
    headers = signed_headers(secret, "msg_1", int(time.time()), body)
    assert standardwebhooks.Webhook(secret).verify(body, headers) == {
        "type": "alert.raised",
        "data": {"key": "key_1"},
    }


def test_rotation_signs_with_each_secret_and_either_verifies() -> None:
    new, old = generate_secret(), generate_secret()
    body = b"{}"
    headers = signed_headers([new, old], "msg_2", int(time.time()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        verify(secret, body, headers)
        assert library_accepts(secret, body, headers)
    assert not we_accept(generate_secret(), body, headers)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda h: h.pop("webhook-id"), "missing header(s): webhook-id"),
        (lambda h: h.pop("webhook-signature"), "missing header(s): webhook-signature"),
        (lambda h: h.update({"webhook-timestamp": "12ab"}), "expected Unix seconds"),
        (lambda h: h.update({"webhook-timestamp": str(int(time.time()) - 301)}), "too old"),
        (lambda h: h.update({"webhook-timestamp": str(int(time.time()) + 400)}), "in the future"),
        (lambda h: h.update({"webhook-id": "msg_other"}), "no signature matches"),
        (lambda h: h.update({"webhook-signature": "v1,!!!"}), "no signature matches"),
        (
            lambda h: h.update({"webhook-signature": "v2," + h["webhook-signature"][3:]}),
            "no signature matches",
        ),
    ],
)
def test_a_tampered_or_stale_delivery_is_rejected_with_the_reason(change, message) -> None:  # type: ignore[no-untyped-def]
    secret = generate_secret()
    headers = signed_headers(secret, "msg_3", int(time.time()), b"{}")
    change(headers)
    with pytest.raises(SignatureError, match=message.replace("(", r"\(").replace(")", r"\)")):
        verify(secret, b"{}", headers)
    assert not library_accepts(secret, b"{}", headers)


def test_header_names_are_matched_regardless_of_case() -> None:
    secret = generate_secret()
    headers = {k.title(): v for k, v in signed_headers(secret, "m", int(time.time()), b"x").items()}
    verify(secret, "x", headers)


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        ("whsec_not base64!", "base64"),
        ("whsec_" + base64.b64encode(b"short").decode(), "holds 5 bytes"),
        ("whsec_" + base64.b64encode(bytes(65)).decode(), "holds 65 bytes"),
    ],
)
def test_an_unusable_secret_is_refused_without_quoting_it(secret: str, message: str) -> None:
    with pytest.raises(WebhookSecretError, match=message) as caught:
        sign(secret, "m", 1, b"")
    assert secret.removeprefix("whsec_") not in str(caught.value)


def test_a_new_secret_size_outside_the_specification_is_refused() -> None:
    with pytest.raises(WebhookSecretError):
        generate_secret(16)


signature_headers = st.fixed_dictionaries(
    {
        "message_id": st.text(
            st.characters(codec="ascii", exclude_characters=" "), min_size=1, max_size=20
        ),
        "body": st.binary(max_size=200).map(lambda b: b.hex().encode()),
        "skew": st.integers(-600, 600),
        "tamper": st.sampled_from(
            ["none", "body", "id", "timestamp", "secret", "extra-v1", "drop"]
        ),
    }
)


@given(signature_headers)
def test_our_verifier_agrees_with_the_reference_library(case: dict[str, object]) -> None:
    secret, other = generate_secret(), generate_secret()
    message_id, body, skew, tamper = case["message_id"], case["body"], case["skew"], case["tamper"]
    assert isinstance(message_id, str)
    assert isinstance(body, bytes)
    assert isinstance(skew, int)
    # A second away from the tolerance's edge, so the two clocks read in turn cannot differ.
    if abs(abs(skew) - 300) <= 1:
        skew += 3
    stamp = int(time.time()) + skew
    headers = signed_headers(other if tamper == "secret" else secret, message_id, stamp, body)
    if tamper == "body":
        body += b" "
    elif tamper == "id":
        headers["webhook-id"] = message_id + "x"
    elif tamper == "timestamp":
        headers["webhook-timestamp"] = str(stamp + 1)
    elif tamper == "extra-v1":
        headers["webhook-signature"] = (
            sign(other, message_id, stamp, body) + " " + headers["webhook-signature"]
        )
    elif tamper == "drop":
        headers["webhook-signature"] = sign(other, message_id, stamp, body)
    ours, theirs = we_accept(secret, body, headers), library_accepts(secret, body, headers)
    assert ours == theirs
    assert ours == (tamper in ("none", "extra-v1") and abs(skew) <= 300)
