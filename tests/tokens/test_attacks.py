"""The JWT attack list: each attack is sent as an attacker would send it, and refused
with the exact decision code the engine answers."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from policyengine.decision import Code
from policyengine.errors import TokenError
from policyengine.tokens import (
    MAX_TOKEN_LENGTH,
    SigningKeys,
    TokenExpired,
    TokenInvalid,
    TokenService,
    decision_code,
)

from .conftest import (
    AUDIENCE,
    GRANTED,
    NOW,
    P256_ORDER,
    Forge,
    accepted,
    b64,
    good_claims,
    key_record,
    parts,
    refused,
    unb64,
)

INVALID = Code.TOKEN_INVALID

# --- alg: none ----------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", "NonE"])
def test_alg_none_without_signature_is_refused(service: TokenService, token: str, alg: str) -> None:
    header, claims, _ = parts(token)
    unsigned = f"{b64({**header, 'alg': alg})}.{b64(claims)}."
    refused(service, unsigned, INVALID)


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE", " none"])
def test_alg_none_with_the_original_signature_is_refused(
    service: TokenService, token: str, alg: str
) -> None:
    header, claims, signature = parts(token)
    forged = f"{b64({**header, 'alg': alg})}.{b64(claims)}.{signature}"
    error = refused(service, forged, INVALID)
    assert "alg" in str(error)


def test_alg_none_with_escalated_scope_is_refused(service: TokenService, token: str) -> None:
    header, claims, _ = parts(token)
    forged = f"{b64({**header, 'alg': 'none'})}.{b64({**claims, 'scope': '*'})}.e30"
    refused(service, forged, INVALID)


# --- an HMAC keyed with our public key ------------------------------------------------------


def _hmac_token(header: dict[str, object], claims: dict[str, object], secret: bytes) -> str:
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
    signing_input = f"{b64(header)}.{b64(claims)}"
    mac = hmac.new(secret, signing_input.encode(), digest[str(header["alg"])]).digest()
    return f"{signing_input}.{b64(mac)}"


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_signed_with_the_public_key_pem_is_refused(
    service: TokenService, keys: SigningKeys, token: str, alg: str
) -> None:
    header, claims, _ = parts(token)
    pem = keys.signer(NOW).public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    forged = _hmac_token({**header, "alg": alg}, {**claims, "scope": "*"}, pem)
    refused(service, forged, INVALID)


@pytest.mark.parametrize("form", ["jwk-json", "jwks-json", "x-coordinate"])
def test_hs256_signed_with_the_published_jwk_is_refused(
    service: TokenService, token: str, form: str
) -> None:
    header, claims, _ = parts(token)
    jwks = service.jwks(NOW)
    secrets = {
        "jwk-json": json.dumps(jwks["keys"][0]).encode(),
        "jwks-json": json.dumps(jwks).encode(),
        "x-coordinate": jwks["keys"][0]["x"].encode(),
    }
    forged = _hmac_token({**header, "alg": "HS256"}, claims, secrets[form])
    refused(service, forged, INVALID)


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES384", "ES512", "EdDSA", "es256", ""])
def test_any_algorithm_but_es256_is_refused(forge: Forge, service: TokenService, alg: str) -> None:
    refused(service, forge({"alg": alg}), INVALID)


def test_missing_alg_is_refused(forge: Forge, service: TokenService) -> None:
    refused(service, forge({"alg": None}), INVALID)


# --- header extensions and keys named by the token ------------------------------------------


@pytest.mark.parametrize("crit", [["exp"], ["b64"], ["urn:example:unknown"], [], "b64"])
def test_crit_header_is_refused(forge: Forge, service: TokenService, crit: object) -> None:
    error = refused(service, forge({"crit": crit, "urn:example:unknown": True}), INVALID)
    assert "critical" in str(error)


def test_unencoded_payload_b64_false_is_refused(forge: Forge, service: TokenService) -> None:
    refused(service, forge({"b64": False, "crit": ["b64"]}), INVALID)


def test_embedded_jwk_of_the_attackers_key_is_refused(service: TokenService, token: str) -> None:
    attacker = ec.generate_private_key(ec.SECP256R1())
    jwk = ECAlgorithm.to_jwk(attacker.public_key(), as_dict=True)
    header, claims, _ = parts(token)
    signing_input = f"{b64({**header, 'jwk': jwk})}.{b64({**claims, 'scope': '*'})}"
    signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input.encode(), attacker)
    refused(service, f"{signing_input}.{b64(signature)}", INVALID)


@pytest.mark.parametrize("member", ["jku", "x5u"])
def test_key_url_in_the_header_is_refused(forge: Forge, service: TokenService, member: str) -> None:
    refused(service, forge({member: "https://attacker.example/jwks.json"}), INVALID)


def test_unknown_header_parameter_is_refused(forge: Forge, service: TokenService) -> None:
    refused(service, forge({"zip": "DEF"}), INVALID)


# --- kid ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kid",
    [
        "../../etc/passwd",
        "/dev/null",
        "../../../../../../dev/random",
        "' OR 1=1 --",
        "x' UNION SELECT 'secret",
        "https://attacker.example/key",
        "",
        "a" * 17,
        "aaaaaaaaaaaaaaa=",
    ],
)
def test_kid_that_is_a_path_sql_or_url_is_refused(
    forge: Forge, service: TokenService, kid: str
) -> None:
    error = refused(service, forge({"kid": kid}), INVALID)
    assert "kid" in str(error)


@pytest.mark.parametrize("kid", [None, 7, ["a"], {"$ne": ""}])
def test_missing_or_non_text_kid_is_refused(
    forge: Forge, service: TokenService, kid: object
) -> None:
    refused(service, forge({"kid": kid}), INVALID)


def test_unknown_well_formed_kid_is_refused(forge: Forge, service: TokenService) -> None:
    refused(service, forge({"kid": "Zz9_Zz9-Zz9_Zz9-"}), INVALID)


def test_a_valid_signature_from_a_key_not_ours_under_our_kid_is_refused(
    service: TokenService, token: str
) -> None:
    stranger = ec.generate_private_key(ec.SECP256R1())
    header, claims, _ = parts(token)
    signing_input = f"{b64(header)}.{b64({**claims, 'scope': '*'})}"
    signature = ECAlgorithm(ECAlgorithm.SHA256).sign(signing_input.encode(), stranger)
    refused(service, f"{signing_input}.{b64(signature)}", INVALID)


# --- tampering ----------------------------------------------------------------------------


def test_tampered_payload_escalating_scope_is_refused(service: TokenService, token: str) -> None:
    header_part, _, signature = token.split(".")
    _, claims, _ = parts(token)
    escalated = {**claims, "scope": "* keys:admin"}
    refused(service, f"{header_part}.{b64(escalated)}.{signature}", INVALID)


@pytest.mark.parametrize(
    "change",
    [{"sub": "key_someoneelse000000000"}, {"exp": 4102444800}, {"env": "test"}, {"aud": "x"}],
)
def test_tampered_payload_is_refused(
    service: TokenService, token: str, change: dict[str, object]
) -> None:
    header_part, _, signature = token.split(".")
    _, claims, _ = parts(token)
    refused(service, f"{header_part}.{b64({**claims, **change})}.{signature}", INVALID)


@pytest.mark.parametrize("change", [{"typ": "application/at+jwt"}, {"typ": "AT+JWT"}])
def test_tampered_header_is_refused(
    service: TokenService, token: str, change: dict[str, str]
) -> None:
    header, _, _ = parts(token)
    _, payload_part, signature = token.split(".")
    refused(service, f"{b64({**header, **change})}.{payload_part}.{signature}", INVALID)


def test_header_moved_to_the_other_current_kid_is_refused(
    service: TokenService, token: str
) -> None:
    new_kid = service.rotate(NOW)
    header, _, _ = parts(token)
    _, payload_part, signature = token.split(".")
    refused(service, f"{b64({**header, 'kid': new_kid})}.{payload_part}.{signature}", INVALID)


@pytest.mark.parametrize(
    "signature",
    [
        bytes(64),  # r = s = 0, the "psychic signature" (CVE-2022-21449)
        b"\x00" * 32 + b"\x01" * 32,
        bytes(63),
        bytes(65),
        b"\x30\x06\x02\x01\x01\x02\x01\x01",  # DER, where JOSE writes r || s
    ],
)
def test_forged_or_misshapen_signature_is_refused(
    service: TokenService, token: str, signature: bytes
) -> None:
    signing_input = token.rsplit(".", 1)[0]
    refused(service, f"{signing_input}.{b64(signature)}", INVALID)


def test_signature_of_another_token_is_refused(service: TokenService) -> None:
    one = service.issue(key_record(), ["events:read"], None, "15m", NOW)
    other = service.issue(key_record(), ["events:*"], None, "15m", NOW)
    refused(service, f"{one.rsplit('.', 1)[0]}.{other.rsplit('.', 1)[1]}", INVALID)


def test_payload_with_repeated_claim_is_refused(forge: Forge, service: TokenService) -> None:
    # Even signed by us: which "scope" counts would depend on the parser.
    claims = json.dumps(good_claims(), separators=(",", ":"))[:-1] + ',"scope":"*"}'
    refused(service, forge(raw_claims=b64(claims)), INVALID)


# --- time ---------------------------------------------------------------------------------


def test_expired_token_is_refused_as_expired(service: TokenService, token: str) -> None:
    refused(service, token, Code.TOKEN_EXPIRED, at=NOW + timedelta(minutes=15, seconds=5))


def test_expiry_allows_the_leeway_and_no_more(service: TokenService, token: str) -> None:
    service.verify(token, NOW + timedelta(minutes=15, seconds=4))
    refused(service, token, Code.TOKEN_EXPIRED, at=NOW + timedelta(minutes=15, seconds=5))


def test_expired_and_tampered_token_is_invalid_not_expired(
    service: TokenService, token: str
) -> None:
    header_part, _, signature = token.split(".")
    _, claims, _ = parts(token)
    tampered = f"{header_part}.{b64({**claims, 'scope': '*'})}.{signature}"
    refused(service, tampered, INVALID, at=NOW + timedelta(hours=2))


def test_not_yet_valid_token_is_refused(forge: Forge, service: TokenService) -> None:
    start = int(NOW.timestamp()) + 60
    refused(service, forge(claims={"nbf": start, "exp": start + 600}), INVALID)


def test_nbf_within_the_leeway_is_accepted(forge: Forge, service: TokenService) -> None:
    start = int(NOW.timestamp()) + 5
    service.verify(forge(claims={"nbf": start, "iat": start, "exp": start + 600}), NOW)


def test_iat_in_the_future_is_refused(forge: Forge, service: TokenService) -> None:
    issued = int(NOW.timestamp()) + 60
    token = forge(claims={"iat": issued, "nbf": issued - 120, "exp": issued + 600})
    error = refused(service, token, INVALID)
    assert "iat" in str(error)


def test_lifetime_beyond_max_ttl_is_refused(forge: Forge, service: TokenService) -> None:
    issued = int(NOW.timestamp())
    refused(service, forge(claims={"exp": issued + 3601}), INVALID)


def test_exp_before_iat_is_refused(forge: Forge, service: TokenService) -> None:
    issued = int(NOW.timestamp())
    refused(service, forge(claims={"exp": issued}), INVALID)


@pytest.mark.parametrize("exp", ["1795694400", True, 1e400, None, [1], 10**30])
def test_exp_that_is_not_a_time_is_refused(
    forge: Forge, service: TokenService, exp: object
) -> None:
    refused(service, forge(claims={"exp": exp}), INVALID)


# --- audience, issuer, typ, claims ---------------------------------------------------------


@pytest.mark.parametrize("aud", ["https://other.example", "https://api.tdoc.example/v1/"])
def test_wrong_audience_is_refused(forge: Forge, service: TokenService, aud: str) -> None:
    error = refused(service, forge(claims={"aud": aud}), INVALID)
    assert "aud" in str(error)


def test_audience_list_is_refused_as_we_never_issue_one(
    forge: Forge, service: TokenService
) -> None:
    refused(service, forge(claims={"aud": [AUDIENCE, "https://other.example"]}), INVALID)


def test_wrong_audience_wins_over_expiry(forge: Forge, service: TokenService) -> None:
    token = forge(claims={"aud": "https://other.example"})
    refused(service, token, INVALID, at=NOW + timedelta(hours=1))


def test_wrong_issuer_is_refused(forge: Forge, service: TokenService) -> None:
    error = refused(service, forge(claims={"iss": "https://attacker.example"}), INVALID)
    assert "iss" in str(error)


@pytest.mark.parametrize("typ", ["JWT", "jwt", "at+JWT+x", "application/jwt", 1])
def test_wrong_typ_is_refused(forge: Forge, service: TokenService, typ: object) -> None:
    error = refused(service, forge({"typ": typ}), INVALID)
    assert "typ" in str(error)


def test_missing_typ_is_refused(forge: Forge, service: TokenService) -> None:
    refused(service, forge({"typ": None}), INVALID)


@pytest.mark.parametrize("typ", ["application/at+jwt", "AT+JWT"])
def test_typ_is_compared_as_a_media_type(forge: Forge, service: TokenService, typ: str) -> None:
    service.verify(forge({"typ": typ}), NOW)


def test_missing_exp_is_refused(forge: Forge, service: TokenService) -> None:
    error = refused(service, forge(claims={"exp": None}), INVALID)
    assert "'exp'" in str(error)


@pytest.mark.parametrize("claim", ["iss", "aud", "sub", "iat", "nbf", "jti", "scope", "env"])
def test_missing_required_claim_is_refused(forge: Forge, service: TokenService, claim: str) -> None:
    error = refused(service, forge(claims={claim: None}), INVALID)
    assert f"'{claim}'" in str(error)


@pytest.mark.parametrize(
    "change",
    [{"scope": ""}, {"scope": "events:read  tasks:read"}, {"scope": "events"}, {"env": "prod"}],
)
def test_malformed_claim_is_refused(
    forge: Forge, service: TokenService, change: dict[str, object]
) -> None:
    refused(service, forge(claims=change), INVALID)


# --- size and garbage -----------------------------------------------------------------------


def test_huge_token_is_refused_before_parsing(forge: Forge, service: TokenService) -> None:
    huge = forge(claims={"pad": "x" * MAX_TOKEN_LENGTH})
    assert len(huge) > MAX_TOKEN_LENGTH
    error = refused(service, huge, INVALID)
    assert "longer" in str(error)


def test_huge_garbage_is_refused(service: TokenService) -> None:
    refused(service, "eyJ" + "A" * 10_000_000 + ".e30.e30", INVALID)


def test_deeply_nested_header_is_refused(service: TokenService) -> None:
    nested = f"{b64('[' * 3000 + ']' * 3000)}.e30.AAAA"
    assert len(nested) <= MAX_TOKEN_LENGTH
    error = refused(service, nested, INVALID)
    assert "JSON" in str(error)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "..",
        "a.b.c",
        "e30.e30.e30",
        "not a token",
        "eyJhbGciOiJFUzI1NiJ9",
        "eyJhbGciOiJFUzI1NiJ9.e30",
        "a.b.c.d",
        "a.b.c.d.e",
        "eyJ!.eyJ.AAAA",
        "e30=.e30.AAAA",
        "e30.e30.AA AA",
        "e30.e30.AAA\n",
        "W10.e30.AAAA",  # a JSON array, not an object
        "bnVsbA.e30.AAAA",  # JSON null
        "_w.e30.AAAA",  # not UTF-8
        "eyJhbGciOiJFUzI1NiJ9ÿ.e30.AAAA",
        "tdoc_live_aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1eF2gH4",
    ],
)
def test_garbage_is_refused(service: TokenService, garbage: str) -> None:
    refused(service, garbage, INVALID)


def test_non_text_token_is_refused(service: TokenService) -> None:
    with pytest.raises(TokenInvalid):
        service.verify(b"e30.e30.e30", NOW)  # type: ignore[arg-type]


def test_signature_with_stray_low_bits_is_refused(service: TokenService, token: str) -> None:
    # 64 bytes spell 86 characters whose last carries 2 unused bits: a second spelling of
    # the same signature must not pass for the token.
    signing_input, signature = token.rsplit(".", 1)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(signature[-1])
    respelled = signature[:-1] + alphabet[last ^ 1]
    refused(service, f"{signing_input}.{respelled}", INVALID)


def test_refusals_carry_the_engines_decision_codes() -> None:
    assert decision_code(TokenExpired("expired")) is Code.TOKEN_EXPIRED
    assert decision_code(TokenInvalid("forged")) is Code.TOKEN_INVALID
    assert decision_code(TokenError("any other")) is Code.TOKEN_INVALID
    assert (TokenExpired.code, TokenInvalid.code) == ("token_expired", "token_invalid")


# --- the second spelling of an ECDSA signature ------------------------------------------------


def twin(token: str) -> str:
    """The token with its signature's other valid spelling, ``(r, n - s)``."""
    signing_input, signature = token.rsplit(".", 1)
    raw = unb64(signature)
    r, s = raw[:32], int.from_bytes(raw[32:], "big")
    return f"{signing_input}.{b64(r + (P256_ORDER - s).to_bytes(32, 'big'))}"


def test_tokens_are_issued_with_low_s_signatures(service: TokenService) -> None:
    for _ in range(64):  # ECDSA's s is high half the time, unless it is normalised
        token = service.issue(key_record(), GRANTED, None, "15m", NOW)
        s = int.from_bytes(unb64(token.rsplit(".", 1)[1])[32:], "big")
        assert 0 < s <= P256_ORDER // 2
        accepted(service, token)


def test_the_high_s_twin_of_a_valid_token_is_refused(service: TokenService) -> None:
    for _ in range(16):
        token = service.issue(key_record(), GRANTED, None, "15m", NOW)
        error = refused(service, twin(token), INVALID)
        assert "low-s" in str(error)
        accepted(service, token)
