"""Tokens through the engine: exchanged for a key, narrowed, and dead with their key."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import POLICIES, SECRET, Clock, RemoteLimiter, edited_policies, tdoc_engine

from policyengine.decision import Code, RuleRef, Step
from policyengine.engine import Engine
from policyengine.errors import KeyRequestError, StorageError
from policyengine.request import Request

CLIENT = "203.0.113.9"


def call(engine: Engine, credential: str, method: str = "GET", path: str = "/v1/events") -> Code:
    return engine.check(Request(credential=credential, method=method, path=path, ip=CLIENT)).code


def test_a_token_carries_at_most_its_keys_scopes(engine: Engine) -> None:
    issued = engine.keys.create(type="write", label="w", environment="live", allowed_ips=[CLIENT])
    token = engine.tokens.issue(issued.secret, scopes=["events:read"], ttl="15m")
    assert call(engine, token) is Code.OK
    assert call(engine, token, "POST", "/v1/events") is Code.INSUFFICIENT_SCOPE
    assert call(engine, issued.secret, "POST", "/v1/events") is Code.OK
    with pytest.raises(KeyRequestError):
        engine.tokens.issue(issued.secret, scopes=["keys:admin"])


def test_a_token_dies_with_its_key(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret)
    assert call(engine, token) is Code.OK
    engine.keys.revoke(issued.key.id)
    assert call(engine, token) is Code.REVOKED
    with pytest.raises(KeyRequestError, match="revoked"):
        engine.tokens.issue(issued.secret)


def test_an_expired_token_is_refused(engine: Engine, clock: Clock) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret, ttl="5m")
    clock.advance(300 + 6)  # past exp and the 5 s leeway
    decision = engine.check(Request(credential=token, method="GET", path="/v1/events", ip=CLIENT))
    assert (decision.code, decision.status) == (Code.TOKEN_EXPIRED, 401)


def _forged(token: str) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["scope"] = "*"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_a_tampered_token_is_invalid(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret)
    assert call(engine, _forged(token), "POST", "/v1/events") is Code.TOKEN_INVALID
    none_alg = base64.urlsafe_b64encode(b'{"alg":"none","typ":"at+jwt"}').rstrip(b"=").decode()
    assert call(engine, f"{none_alg}.{token.split('.')[1]}.") is Code.TOKEN_INVALID


def test_the_jwks_lists_public_keys_only(engine: Engine) -> None:
    document = engine.tokens.jwks()
    (key,) = document["keys"]
    assert key["kty"] == "EC"
    assert "d" not in key
    engine.tokens.rotate()
    assert len(engine.tokens.jwks()["keys"]) == 2


def test_tokens_from_another_engine_are_invalid(engine: Engine) -> None:
    with Engine.from_directory(
        engine.directory, environment="live", store="memory://", secret="t" * 32
    ) as other:
        issued = other.keys.create(type="read-only", label="r", environment="live")
        foreign = other.tokens.issue(issued.secret)
    assert call(engine, foreign) is Code.TOKEN_INVALID


def test_a_test_key_cannot_get_a_token_in_the_live_environment(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="t", environment="test")
    with pytest.raises(KeyRequestError) as refused:
        engine.tokens.issue(issued.secret)
    assert str(refused.value) == "a test key cannot be exchanged in the live environment"


def test_only_a_key_of_ours_is_exchanged_for_a_token(engine: Engine) -> None:
    unknown = engine.keys.key_format.generate("live")
    with pytest.raises(KeyRequestError) as refused:
        engine.tokens.issue(unknown)
    assert str(refused.value) == "no such key"
    with pytest.raises(KeyRequestError) as malformed:
        engine.tokens.issue("tdoc_live_short")
    assert str(malformed.value) == (
        "malformed API key: 5 characters follow the prefix, not 36 (was it truncated or extended?)"
    )


def test_exchanging_a_key_for_a_token_is_not_a_use_of_the_key(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    engine.tokens.issue(issued.secret)
    engine.flush()
    record = engine.keys.get(issued.key.id)
    assert record is not None
    assert record.last_used_at is None


def test_signing_keys_live_beside_an_sqlite_store_and_outlive_the_engine(
    tmp_path: Path, clock: Clock
) -> None:
    store = f"sqlite:///{tmp_path / 'keys.db'}"
    options = {"environment": "live", "store": store, "secret": SECRET, "clock": clock}
    with Engine.from_directory(POLICIES, **options) as first:
        issued = first.keys.create(type="read-only", label="r", environment="live")
        token = first.tokens.issue(issued.secret)
    assert (tmp_path / "keys.db.signing-keys.json").is_file()
    with Engine.from_directory(POLICIES, **options) as second:
        assert call(second, token) is Code.OK


def test_signing_keys_go_where_they_are_told(tmp_path: Path, clock: Clock) -> None:
    path = tmp_path / "signing.json"
    with Engine.from_directory(
        POLICIES, store="memory://", secret=SECRET, clock=clock, signing_keys=path
    ) as engine:
        engine.tokens.jwks()
    assert path.is_file()


def test_a_tokens_high_s_twin_is_invalid(engine: Engine) -> None:
    order = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret)
    signing_input, signature = token.rsplit(".", 1)
    raw = base64.urlsafe_b64decode(signature + "==")
    s = order - int.from_bytes(raw[32:], "big")
    spelled = base64.urlsafe_b64encode(raw[:32] + s.to_bytes(32, "big")).rstrip(b"=").decode()
    assert call(engine, token) is Code.OK
    assert call(engine, f"{signing_input}.{spelled}") is Code.TOKEN_INVALID


def test_an_explained_token_decision_walks_every_check_of_its_key(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret)
    asked = Request(credential=token, method="GET", path="/v1/events", ip=CLIENT)
    decision = engine.check(asked, explain=True)
    assert decision.allowed
    assert decision.key is not None
    assert decision.key.id == issued.key.id
    assert decision.trace == (
        Step("state", True, "the key is active"),
        Step("environment", True, "live key in the live environment"),
        Step("ip", True, "the key is not restricted"),
        Step("scope", True, "scope events:read grants events:read"),
        Step("rate", True, "within limits"),
    )
    assert engine.check(asked).trace is None


def test_a_token_of_a_revoked_key_is_denied_at_the_state_step_naming_the_key(
    engine: Engine,
) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret)
    engine.keys.revoke(issued.key.id)
    decision = engine.check(Request(credential=token, method="GET", path="/v1/events", ip=CLIENT))
    assert (decision.code, decision.step, decision.rule) == (
        Code.REVOKED,
        "state",
        RuleRef("state"),
    )
    assert decision.key is not None
    assert decision.key.id == issued.key.id


def test_a_token_that_does_not_verify_is_denied_at_the_credential_step(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret)
    broken = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    decision = engine.check(Request(credential=broken, method="GET", path="/v1/events", ip=CLIENT))
    assert (decision.code, decision.step, decision.rule, decision.key) == (
        Code.TOKEN_INVALID,
        "credential",
        RuleRef("credential"),
        None,
    )
    assert decision.reason == "the token's signature does not verify"


def test_a_token_whose_key_is_gone_from_the_store_is_not_found(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret)
    monkeypatch.setattr(engine.keys, "lookup_id", lambda key_id, **_: None)
    decision = engine.check(Request(credential=token, method="GET", path="/v1/events", ip=CLIENT))
    assert (decision.code, decision.step, decision.rule, decision.reason) == (
        Code.NOT_FOUND,
        "key",
        RuleRef("key"),
        "the token's key does not exist",
    )


def test_a_token_whose_key_store_fails_is_denied_as_unavailable(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    token = engine.tokens.issue(issued.secret)

    def broken(key_id: str, **_: object) -> None:
        raise StorageError("the database is down")

    monkeypatch.setattr(engine.keys, "lookup_id", broken)
    decision = engine.check(Request(credential=token, method="GET", path="/v1/events", ip=CLIENT))
    assert (decision.code, decision.step, decision.rule, decision.reason, decision.error) == (
        Code.UNAVAILABLE,
        "key",
        RuleRef("key"),
        "the key store is unavailable",
        "the database is down",
    )


#: A request straight from the client, and the same through a trusted proxy: a forwarded
#: address is read from the headers, so that the answer is worked out on every check.
ARRIVALS = {
    "direct": {"ip": CLIENT},
    "through a trusted proxy": {"ip": "10.0.0.1", "headers": {"X-Forwarded-For": CLIENT}},
}


@pytest.mark.parametrize("arrival", ARRIVALS)
def test_a_rule_can_tell_a_token_from_its_key(tmp_path: Path, clock: Clock, arrival: str) -> None:
    rule = (
        "rules:\n"
        "  - name: events-with-keys-only\n"
        "    effect: deny\n"
        "    resources: [events]\n"
        '    when: request.credential == "token"\n'
        "    reason: Events are read with the key itself\n"
    )
    policies = edited_policies(tmp_path, "rules.yaml", "rules:\n", rule)
    with Engine.from_directory(
        policies,
        environment="live",
        store="memory://",
        secret=SECRET,
        clock=clock,
        trusted_proxies=["10.0.0.0/8"],
    ) as engine:
        issued = engine.keys.create(type="read-only", label="r", environment="live")
        token = engine.tokens.issue(issued.secret)
        by_key = Request(
            credential=issued.secret, method="GET", path="/v1/events", **ARRIVALS[arrival]
        )  # type: ignore[arg-type]
        asked = Request(credential=token, method="GET", path="/v1/events", **ARRIVALS[arrival])  # type: ignore[arg-type]
        for explain in (False, True, False):
            assert engine.check(by_key, explain=explain).code is Code.OK
            denied = engine.check(asked, explain=explain)
            assert (denied.code, denied.rule and denied.rule.name) == (
                Code.DENIED_BY_POLICY,
                "events-with-keys-only",
            )


@pytest.mark.parametrize("arrival", ARRIVALS)
def test_a_token_is_held_to_its_own_scopes_however_the_request_arrives(
    clock: Clock, arrival: str
) -> None:
    with tdoc_engine(clock, trusted_proxies=["10.0.0.0/8"]) as engine:
        issued = engine.keys.create(
            type="write", label="w", environment="live", allowed_ips=[CLIENT]
        )
        token = engine.tokens.issue(issued.secret, scopes=["events:read"], ttl="15m")
        for _ in range(2):  # worked out, then (where it may be) remembered
            # The key allows only the client's address: the proxy's would be refused.
            for credential, writes in ((token, Code.INSUFFICIENT_SCOPE), (issued.secret, Code.OK)):
                for method, expected in (("GET", Code.OK), ("POST", writes)):
                    asked = Request(
                        credential=credential, method=method, path="/v1/events", **ARRIVALS[arrival]
                    )  # type: ignore[arg-type]
                    decided = engine.check(asked)
                    assert decided.code is expected, (credential is token, method)


def test_a_key_is_exchanged_while_it_lives_by_the_engines_clock(
    engine: Engine, clock: Clock
) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live", expires_in="1h")
    token = engine.tokens.issue(issued.secret, ttl="1h")
    claims = engine.tokens.verify(token, clock())
    assert claims.expires_at == clock() + timedelta(hours=1)
    assert len(claims.jti) == 22
    clock.advance(3601)
    with pytest.raises(KeyRequestError) as refused:
        engine.tokens.issue(issued.secret)
    assert str(refused.value) == "the key is expired"


def test_a_tokens_claims_are_compact_json(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    payload = engine.tokens.issue(issued.secret).split(".")[1]
    text = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode()
    assert ", " not in text
    assert '": ' not in text


def test_a_token_is_checked_against_a_limiter_outside_the_process(clock: Clock) -> None:
    with tdoc_engine(clock, limiter=RemoteLimiter()) as engine:
        issued = engine.keys.create(
            type="read-only", label="r", environment="live", rate_limit="2/minute"
        )
        token = engine.tokens.issue(issued.secret)
        codes = [call(engine, token) for _ in range(3)]
    assert codes == [Code.OK, Code.OK, Code.RATE_LIMITED]


def test_a_dry_run_with_a_token_spends_none_of_its_keys_limit(engine: Engine) -> None:
    issued = engine.keys.create(
        type="read-only", label="r", environment="live", rate_limit="2/minute"
    )
    token = engine.tokens.issue(issued.secret)
    asked = Request(credential=token, method="GET", path="/v1/events", ip=CLIENT)
    assert all(engine.check(asked, dry_run=True).allowed for _ in range(5))
    assert [call(engine, token) for _ in range(3)] == [Code.OK, Code.OK, Code.RATE_LIMITED]


def test_a_tokens_issuer_and_audience_are_policyengine_by_default(engine: Engine) -> None:
    issued = engine.keys.create(type="read-only", label="r", environment="live")
    payload = engine.tokens.issue(issued.secret).split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert (claims["iss"], claims["aud"]) == ("policyengine", "policyengine")
