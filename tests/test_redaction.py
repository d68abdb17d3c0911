"""Secrets in URLs: no password in a store, limiter or Redis URL ever reaches a message,
a log line, a decision or a repr, whichever entry point it went through."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyengine.engine import Engine
from policyengine.errors import PolicyEngineError
from policyengine.keys.invalidation import RedisInvalidator
from policyengine.keys.store import open_store
from policyengine.limits import open_limiter
from policyengine.redaction import redact, scrub
from policyengine.request import Request

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "Sup3rS3cretPassw0rd"
REDIS = os.environ.get("POLICYENGINE_TEST_REDIS", "redis://127.0.0.1:6379/0")


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://user:pw@host:6379/0", "redis://user:***@host:6379/0"),
        ("redis://:pw@host:6379/0", "redis://:***@host:6379/0"),
        ("redis://host:6379/0", "redis://host:6379/0"),
        ("postgresql://app@db/main", "postgresql://app@db/main"),
        ("postgresql://app:p%40ss@db/main", "postgresql://app:***@db/main"),
        ("postgresql://app:p@ss@db/main", "postgresql://app:***@db/main"),
        ("postgresql://app@db/main?password=pw", "postgresql://app@db/main?password=***"),
        (
            "postgresql://db/main?sslmode=require&PassWord=pw&sslpassword=x&options=-c%20a%3Db",
            "postgresql://db/main?sslmode=require&PassWord=***&sslpassword=***&options=-c%20a%3Db",
        ),
        ("rediss://h/0?token=t&secret=s&passwd=p", "rediss://h/0?token=***&secret=***&passwd=***"),
        ("host=db user=app password=pw dbname=x", "host=db user=app password=*** dbname=x"),
        (
            "host=db password = 'p w\\'d' sslpassword=x port=5432",
            "host=db password = *** sslpassword=*** port=5432",
        ),
        ("memory://", "memory://"),
        ("", ""),
    ],
)
def test_urls_are_shown_without_their_secrets(url: str, shown: str) -> None:
    assert redact(url) == shown


secrets_ = st.text(
    st.characters(codec="ascii", categories=["L", "N", "P", "S"], exclude_characters="%'\\"),
    min_size=6,
    max_size=24,
).filter(lambda s: any(c.isalnum() for c in s))
FORMS = [
    "postgresql://app:{}@db:5432/main",
    "postgresql://app@db/main?sslmode=disable&password={}",
    "postgresql://db/main?sslpassword={}&application_name=x",
    "redis://:{}@cache:6379/0",
    "rediss://default:{}@cache/0?ssl_cert_reqs=none",
    "redis://cache/0?token={}",
    "host=db user=app password='{}' dbname=main",
    "postgresql://app@db/main?secret={}#frag",
]


@given(secrets_, st.sampled_from(FORMS))
def test_no_secret_survives_redaction(secret: str, form: str) -> None:
    quoted = secret.replace("&", "%26").replace("#", "%23").replace("@", "%40")
    url = form.format(secret if "'" in form else quoted)
    assert secret not in redact(url)
    assert quoted not in redact(url)
    message = f"connection to {url} failed for {secret!r}: {secret}"
    assert secret not in scrub(message, url)


# --- every entry point, with a URL that cannot connect --------------------------------------


def texts_of(error: BaseException) -> list[str]:
    """The text of an error and of every error chained to it."""
    found: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        found += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return found


def assert_hidden(caplog: pytest.LogCaptureFixture, *texts: object) -> None:
    logged = [r.getMessage() + (r.exc_text or "") for r in caplog.records]
    for text in [*map(str, texts), *logged]:
        assert PASSWORD not in text


STORES = [
    f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/test",
    f"postgresql://postgres@127.0.0.1:1/test?password={PASSWORD}",
    f"postgresql://postgres@127.0.0.1:1/test?sslmode=disable&sslpassword={PASSWORD}",
    f"postgresql://postgres:{PASSWORD}@127.0.0.1:5432/test?sslmode=bogus",
    f"postgresql://postgres:{PASSWORD}@127.0.0.1:notaport/test",
    f"host=127.0.0.1 port=1 password={PASSWORD}",
    f"sqlite:///keys.db?password={PASSWORD}",
    f"memory://admin:{PASSWORD}@here",
    f"mysql://root:{PASSWORD}@127.0.0.1/keys",
]


@pytest.mark.parametrize("url", STORES)
def test_a_store_url_keeps_its_password_out_of_errors_and_logs(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PolicyEngineError) as caught:
        open_store(url)
    assert_hidden(caplog, *texts_of(caught.value))
    with pytest.raises(PolicyEngineError) as caught:
        Engine.from_directory(ROOT / "policies", store=url, secret="s" * 32)
    assert_hidden(caplog, *texts_of(caught.value))


def check_with_limiter(url: str) -> list[object]:
    """One check by an engine whose limiter is at ``url``, which fails: what it shows."""
    with Engine.from_directory(
        ROOT / "policies", environment="live", store="memory://", limiter=url, secret="s" * 32
    ) as engine:
        issued = engine.keys.create(type="read-only", label="r", environment="live")
        decision = engine.check(
            Request(credential=issued.secret, method="GET", path="/v1/events", ip="203.0.113.9")
        )
        assert decision.code == "UNAVAILABLE"
        assert decision.error
        return [decision, decision.error, decision.reason, repr(engine.limiter)]


LIMITERS = [
    f"redis://:{PASSWORD}@127.0.0.1:1/0",
    f"redis://default:{PASSWORD}@127.0.0.1:1/0?socket_keepalive=true",
    f"redis://127.0.0.1:1/0?password={PASSWORD}",
]


@pytest.mark.parametrize("url", LIMITERS)
def test_a_limiter_url_keeps_its_password_out_of_decisions_and_logs(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert_hidden(caplog, *check_with_limiter(url))


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{PASSWORD}@127.0.0.1:1/notanumber",
        f"redis://:{PASSWORD}@127.0.0.1:1/0?socket_timeout=soon",
        f"memory://u:{PASSWORD}@x",
        f"memcached://admin:{PASSWORD}@cache:11211",
    ],
)
def test_a_bad_limiter_url_keeps_its_password_out_of_the_error(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(PolicyEngineError) as caught:
        open_limiter(url)
    assert_hidden(caplog, *texts_of(caught.value))


@pytest.mark.parametrize(
    "url",
    [
        f"redis://:{PASSWORD}@127.0.0.1:1/0",
        f"redis://127.0.0.1:1/0?password={PASSWORD}",
        f"redis://:{PASSWORD}@127.0.0.1:1/0?socket_timeout=soon",
    ],
)
def test_a_redis_invalidation_url_keeps_its_password_out_of_errors(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(PolicyEngineError) as caught:
        RedisInvalidator(url)
    assert_hidden(caplog, *texts_of(caught.value))
    with pytest.raises(PolicyEngineError) as caught:
        Engine.from_directory(ROOT / "policies", store="memory://", redis=url, secret="s" * 32)
    assert_hidden(caplog, *texts_of(caught.value))


def redis_with_a_wrong_password() -> str:
    from urllib.parse import urlsplit

    from keys.support import require_server

    require_server(REDIS, "Redis")
    parts = urlsplit(REDIS)
    return f"redis://nobody:{PASSWORD}@{parts.hostname}:{parts.port}/0"


def test_a_refused_redis_password_stays_out_of_the_decision(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The server has no user 'nobody': it refuses AUTH, and the limiter fails.
    url = redis_with_a_wrong_password()
    caplog.set_level(logging.DEBUG)
    assert_hidden(caplog, *check_with_limiter(url))
    with pytest.raises(PolicyEngineError) as caught:
        RedisInvalidator(url)
    assert_hidden(caplog, *texts_of(caught.value))
