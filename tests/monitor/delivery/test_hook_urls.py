"""A hook's URL as it is read back and logged: the receivers' path tokens, token-like and
secret-named query values hidden; ordinary paths, the scheme, host and port kept."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyengine.monitor.delivery_log import Delivery
from policyengine.monitor.hook_urls import RedactedHookUrl, redact_hook_url
from policyengine.monitor.targets import TargetRefused, parse_target_url

SLACK_TOKEN = "Xk93mTqL0pZr7VbN2cYw5HdA"
DISCORD_TOKEN = "kQ3v_Zt8-" + "aB1cD2eF3gH4iJ5kL6mN7oP8qR9sT0uV1wX2yZ3aB4cD5eF6gH7iJ8kL9mN0oP"
GUID = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
HEX = "0123456789abcdef0123456789abcdef"
SIG = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCd"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            f"https://hooks.slack.com/services/T024BE7LD/B01ABCDEF/{SLACK_TOKEN}",
            "https://hooks.slack.com/services/***/***/***",
        ),
        (
            "https://hooks.slack.com/triggers/T024BE7LD/5123456789/abc",
            "https://hooks.slack.com/triggers/***/***/***",
        ),
        (
            f"https://discord.com/api/webhooks/1234567890123456789/{DISCORD_TOKEN}",
            "https://discord.com/api/webhooks/***/***",
        ),
        (
            "https://canary.discordapp.com/api/v10/webhooks/12/short",
            "https://canary.discordapp.com/api/v10/webhooks/***/***",
        ),
        (
            f"https://contoso.webhook.office.com/webhookb2/{GUID}@{GUID}/IncomingWebhook/{HEX}/"
            f"{GUID}/V2{SLACK_TOKEN}",
            "https://contoso.webhook.office.com/webhookb2/***/***/***/***/***",
        ),
        (
            f"https://prod-12.westus.logic.azure.com:443/workflows/{HEX}/triggers/manual/paths/"
            f"invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}",
            "https://prod-12.westus.logic.azure.com:443/workflows/***/triggers/manual/paths/"
            "invoke?api-version=2016-06-01&sp=***&sv=1.0&sig=***",
        ),
        (
            "https://hooks.zapier.com/hooks/catch/123/abcdef/",
            "https://hooks.zapier.com/hooks/catch/***/***/",
        ),
        (
            "https://HOOKS.Zapier.com.:443/hooks/catch/123/abcdef/",
            "https://HOOKS.Zapier.com.:443/hooks/catch/***/***/",
        ),
        (
            "https://maker.ifttt.com/trigger/door/with/key/k3y",
            "https://maker.ifttt.com/trigger/***/***/***/***",
        ),
        (
            "https://chat.example.com/hooks/xyz1abc2def3ghi4jkl5mno6pq",
            "https://chat.example.com/hooks/***",
        ),
        (f"https://api.example.com/webhooks/{SIG}/in", "https://api.example.com/webhooks/***/in"),
        ("https://example.com/in/abcdefghijklmnopqrstu", "https://example.com/in/***"),
        ("https://example.com/in/deadbeefcafebabe", "https://example.com/in/***"),
        ("https://example.com/in/aB%2Bc%2Fd%3D0123456789", "https://example.com/in/***"),
        ("https://example.com/in?code=aGVsbG8gd29ybGQgdG9rZW4=", "https://example.com/in?code=***"),
        (
            "https://example.com/in?token=s3cr3t&team=ops",
            "https://example.com/in?token=***&team=ops",
        ),
        ("https://example.com/in?" + SIG, "https://example.com/in?***"),
        ("https://tok3nAsTheUserName@example.com/in", "https://***@example.com/in"),
        ("https://example.com/in#" + SIG, "https://example.com/in#***"),
        # Ordinary paths: short names, lower-case words, versions, ports and IPv6 hosts.
        ("https://example.com/hooks/tdoc", "https://example.com/hooks/tdoc"),
        ("https://example.com/v1/events?team=ops", "https://example.com/v1/events?team=ops"),
        (
            "http://[2001:db8::1]:8080/incoming-webhook/tdoc_events.receiver/",
            "http://[2001:db8::1]:8080/incoming-webhook/tdoc_events.receiver/",
        ),
        ("https://hooks.example.com/", "https://hooks.example.com/"),
        ("https://hooks.slack.com/", "https://hooks.slack.com/"),
        ("/next?step=2", "/next?step=2"),
    ],
)
def test_a_hook_url_is_shown_without_what_could_be_its_credential(url: str, shown: str) -> None:
    assert redact_hook_url(url) == shown


BASE62 = string.ascii_letters + string.digits
tokens = st.one_of(
    st.text(st.sampled_from(BASE62), min_size=16, max_size=64),
    st.text(st.sampled_from("0123456789abcdef"), min_size=16, max_size=64),
    st.uuids().map(str),
    st.integers(10**15, 10**20).map(str),
)
words = st.text(st.sampled_from(string.ascii_lowercase), min_size=1, max_size=15)
hosts = st.sampled_from(
    ["example.com", "hooks.example.com:8443", "[2001:db8::1]", "hooks.slack.com", "discord.com"]
)


@given(
    token=tokens,
    before=st.lists(words, max_size=4),
    after=st.lists(words, max_size=3),
    host=hosts,
    slash=st.sampled_from(["", "/"]),
)
def test_a_long_random_token_in_any_path_position_is_never_read_back(
    token: str, before: list[str], after: list[str], host: str, slash: str
) -> None:
    url = f"https://{host}/{'/'.join([*before, token, *after])}{slash}"
    parse_target_url(url)  # a URL a hook may be registered with
    shown = redact_hook_url(url)
    assert token not in shown
    assert shown.startswith(f"https://{host}/")
    assert shown.count("/") == url.count("/")


@given(token=tokens, name=st.sampled_from(["sig", "code", "x", "state"]), path=words)
def test_a_long_random_token_as_a_query_value_is_never_read_back(
    token: str, name: str, path: str
) -> None:
    url = f"https://example.com/{path}?team=ops&{name}={token}"
    assert redact_hook_url(url) == f"https://example.com/{path}?team=ops&{name}=***"


@given(st.lists(st.lists(words, min_size=1, max_size=3).map("-".join), max_size=5))
def test_a_path_of_lower_case_words_is_read_back_whole(segments: list[str]) -> None:
    url = "https://hooks.example.com/" + "/".join(segments)
    assert redact_hook_url(url) == url


def test_an_error_that_quotes_the_url_is_scrubbed_of_every_part_hidden() -> None:
    url = RedactedHookUrl("https://hooks.zapier.com/hooks/catch/8812345/b7x9qz2/")
    assert url.shown == "https://hooks.zapier.com/hooks/catch/***/***/"
    assert (
        url.scrub("HTTP 307: redirect to /hooks/catch/8812345/b7x9qz2/ not followed")
        == "HTTP 307: redirect to /hooks/catch/***/***/ not followed"
    )
    # A value too short to mean anything alone is not hunted through the text.
    assert RedactedHookUrl("https://hooks.zapier.com/hooks/catch/1/2/").scrub("HTTP 502") == (
        "HTTP 502"
    )


def test_a_refused_url_is_named_in_the_error_without_its_token() -> None:
    url = f"ftp://hooks.slack.com/services/T024BE7LD/B01ABCDEF/{SLACK_TOKEN}"
    with pytest.raises(TargetRefused) as refused:
        parse_target_url(url)
    assert SLACK_TOKEN not in str(refused.value)
    assert "ftp://hooks.slack.com/services/***/***/***" in str(refused.value)
    assert refused.value.url == url


def test_a_delivery_and_a_parsed_target_show_the_url_as_read_back() -> None:
    url = f"https://hooks.slack.com/services/T024BE7LD/B01ABCDEF/{SLACK_TOKEN}"
    delivery = Delivery(
        id="dlv_1",
        target="hook_1",
        url=url,
        event_type="key.created",
        body="{}",
        state="pending",
        created_at=datetime(2026, 12, 4, tzinfo=UTC),
        next_attempt_at=None,
        delivered_at=None,
        tries=0,
    )
    for shown in (repr(delivery), repr(parse_target_url(url)), f"{[delivery]}"):
        assert SLACK_TOKEN not in shown
        assert "https://hooks.slack.com/services/***/***/***" in shown
    assert "dlv_1" in repr(delivery)
    assert "'pending'" in repr(delivery)
    assert delivery.url == url
