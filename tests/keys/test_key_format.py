from __future__ import annotations

import math
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policyengine.errors import ConfigError, InvalidValue, PolicyError
from policyengine.keys.format import (
    BASE62,
    CHECKSUM_LENGTH,
    ENTROPY_BITS,
    RANDOM_LENGTH,
    KeyFormat,
    checksum,
)
from policyengine.policy.loader import load_texts

FORMAT = KeyFormat("tdoc")
environments = st.sampled_from(("live", "test"))
random_parts = st.text(alphabet=BASE62, min_size=RANDOM_LENGTH, max_size=RANDOM_LENGTH)


def make_key(environment: str, random: str, key_format: KeyFormat = FORMAT) -> str:
    body = f"{key_format.prefix}_{environment}_{random}"
    return body + checksum(body)


def test_generated_key_has_the_documented_shape() -> None:
    key = FORMAT.generate("live")
    assert key.startswith("tdoc_live_")
    assert len(key) == len("tdoc_live_") + RANDOM_LENGTH + CHECKSUM_LENGTH == 46
    assert set(key[len("tdoc_live_") :]) <= set(BASE62)
    assert FORMAT.is_well_formed(key)
    assert FORMAT.parse(FORMAT.generate("test")).environment == "test"


def test_keys_carry_at_least_178_random_bits() -> None:
    assert RANDOM_LENGTH * math.log2(62) >= ENTROPY_BITS >= 178
    keys = {FORMAT.generate("live") for _ in range(2000)}
    assert len(keys) == 2000


def test_checksum_is_six_base62_characters_of_crc32_zero_padded() -> None:
    # CRC32 of "" is 0, which must still be written as six characters.
    assert checksum("") == "000000"
    assert len(checksum("tdoc_live_" + "a" * 30)) == CHECKSUM_LENGTH


@given(environments, random_parts)
def test_parse_returns_the_parts_a_key_was_made_of(environment: str, random: str) -> None:
    key = make_key(environment, random)
    parsed = FORMAT.parse(key)
    assert (parsed.environment, parsed.random, parsed.text) == (environment, random, key)
    assert parsed.checksum == key[-CHECKSUM_LENGTH:]


@given(
    environments,
    random_parts,
    st.data(),
)
def test_any_single_character_change_is_caught_offline(
    environment: str, random: str, data: st.DataObject
) -> None:
    key = make_key(environment, random)
    position = data.draw(st.integers(0, len(key) - 1))
    replacement = data.draw(
        st.sampled_from(string.ascii_letters + string.digits + "_-.").filter(
            lambda c: c != key[position]
        )
    )
    altered = key[:position] + replacement + key[position + 1 :]
    assert not FORMAT.is_well_formed(altered)
    with pytest.raises(InvalidValue):
        FORMAT.parse(altered)


@given(environments, random_parts, st.integers(0, 44))
def test_swapping_two_neighbouring_characters_is_caught(
    environment: str, random: str, position: int
) -> None:
    key = make_key(environment, random)
    swapped = key[:position] + key[position + 1] + key[position] + key[position + 2 :]
    if swapped != key:
        assert not FORMAT.is_well_formed(swapped)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not an API key: it is empty"),
        (
            "ghp_0123456789abcdefghijklmnopqrstuvwxyz",
            "not an API key of ours: it should start with tdoc_live_ or tdoc_test_",
        ),
        (
            "tdoc_live_abc",
            "malformed API key: 3 characters follow the prefix, not 36 "
            "(was it truncated or extended?)",
        ),
        (
            "tdoc_live_" + "a" * 35 + "!",
            "malformed API key: character 36 after the prefix is not a letter or a digit",
        ),
        (
            "tdoc_live_a!" + "a" * 34,
            "malformed API key: character 2 after the prefix is not a letter or a digit",
        ),
        (
            "tdoc_live_" + "a" * 36,
            "malformed API key: its checksum does not match (was it mistyped?)",
        ),
    ],
)
def test_a_malformed_key_gets_a_clear_message_that_does_not_repeat_it(
    text: str, message: str
) -> None:
    with pytest.raises(InvalidValue) as raised:
        FORMAT.parse(text)
    assert str(raised.value) == message
    if text:
        assert text not in str(raised.value)


def test_non_text_is_not_a_key() -> None:
    assert not FORMAT.is_well_formed(None)
    assert not FORMAT.is_well_formed(b"tdoc_live_")
    with pytest.raises(InvalidValue):
        FORMAT.parse(42)


def test_prefix_is_configurable_and_keys_of_another_prefix_are_refused() -> None:
    acme = KeyFormat("acme")
    key = acme.generate("test")
    assert key.startswith("acme_test_")
    assert acme.is_well_formed(key)
    assert not FORMAT.is_well_formed(key)
    # A format made here, not at import: each environment's prefix is told apart.
    for environment in ("live", "test"):
        made = acme.generate(environment)  # type: ignore[arg-type]
        assert acme.problem(made) is None
        assert acme.mask(made) == f"acme_{environment}_…{made[-4:]}"
    assert acme.problem(FORMAT.generate("live")) == (
        "not an API key of ours: it should start with acme_live_ or acme_test_"
    )


@pytest.mark.parametrize("prefix", ["", "T", "Tdoc", "td_oc", "1abc", "a" * 17])
def test_an_unusable_prefix_is_a_configuration_error(prefix: str) -> None:
    with pytest.raises(ConfigError) as refused:
        KeyFormat(prefix)
    assert str(refused.value) == (
        f"invalid key prefix {prefix!r}: use 2 to 16 lower-case letters and digits, "
        "starting with a letter, such as 'tdoc'"
    )


def test_an_unknown_environment_makes_no_key() -> None:
    with pytest.raises(InvalidValue) as refused:
        FORMAT.generate("prod")  # type: ignore[arg-type]
    assert str(refused.value) == "invalid environment 'prod': use 'test' or 'live'"


POLICY = """\
version: 1
key_prefix: acme
routes:
  GET /v1/things: things:read
key_types:
  reader:
    description: Reads things
    scopes: ["things:read"]
"""


def test_a_policy_set_that_names_another_prefix_is_refused_where_it_was_read() -> None:
    acme = load_texts({"a.yaml": POLICY})
    KeyFormat("acme").require_prefix_of(acme, "policies")
    with pytest.raises(PolicyError) as refused:
        KeyFormat("tdoc").require_prefix_of(acme, "policies")
    assert [str(d) for d in refused.value.diagnostics] == [
        "policies: key_prefix is now 'acme', not 'tdoc': a running engine keeps its prefix, "
        "or its keys would stop working; restart it to change the prefix"
    ]


def test_a_policy_set_that_names_no_prefix_means_the_default_one() -> None:
    unnamed = load_texts({"a.yaml": POLICY.replace("key_prefix: acme\n", "")})
    KeyFormat().require_prefix_of(unnamed, "policies")
    with pytest.raises(PolicyError, match="key_prefix is now 'api', not 'tdoc'"):
        FORMAT.require_prefix_of(unnamed, "policies")


def test_mask_shows_only_the_prefix_and_the_last_four_characters() -> None:
    key = FORMAT.generate("live")
    assert FORMAT.mask(key) == f"tdoc_live_…{key[-4:]}"
    assert FORMAT.mask("ghp_secretvalue1234") == "…1234"
    assert key[len("tdoc_live_") : -4] not in FORMAT.mask(key)


filler = st.text(alphabet=string.ascii_letters + string.digits + " _=:'\"\n\t{}", max_size=60)


@given(st.lists(st.tuples(filler, environments, random_parts), max_size=6), filler)
def test_find_keys_finds_exactly_the_planted_keys(
    pieces: list[tuple[str, str, str]], tail: str
) -> None:
    planted = [make_key(environment, random) for _, environment, random in pieces]
    # Separators keep a key from touching filler letters, as it would in real text.
    text = "".join(f"{noise} {key}\n" for (noise, _, _), key in zip(pieces, planted, strict=True))
    text += tail
    assert [found.text for found in FORMAT.find_keys(text)] == planted


@given(environments, random_parts)
def test_find_keys_ignores_look_alikes_whose_checksum_is_wrong(
    environment: str, random: str
) -> None:
    key = make_key(environment, random)
    wrong = key[:-1] + ("0" if key[-1] != "0" else "1")
    assert FORMAT.find_keys(f"token = {wrong}") == []


def test_find_keys_ignores_a_key_inside_a_longer_token_and_reports_positions() -> None:
    key = FORMAT.generate("live")
    assert FORMAT.find_keys(f"x{key}") == []
    assert FORMAT.find_keys(f"{key}x") == []
    found = FORMAT.find_keys(f'API_KEY="{key}"')
    assert [(f.text, f.start, f.environment) for f in found] == [(key, 9, "live")]
    assert key not in repr(found)


@given(environments, random_parts, st.integers(0, RANDOM_LENGTH + CHECKSUM_LENGTH - 1), st.data())
def test_a_character_outside_base62_is_named_by_its_position(
    environment: str, random: str, position: int, data: st.DataObject
) -> None:
    key = make_key(environment, random)
    start = len(FORMAT.key_prefix(environment))  # type: ignore[arg-type]
    bad = data.draw(st.characters(blacklist_characters=BASE62))
    text = key[: start + position] + bad + key[start + position + 1 :]
    assert FORMAT.problem(text) == (
        f"malformed API key: character {position + 1} after the prefix is not a letter or a digit"
    )
    assert not FORMAT.is_well_formed(text)
    assert FORMAT.problem(key) is None
    assert FORMAT.is_well_formed(key)


def test_a_new_format_finds_keys_of_its_own_prefix_only() -> None:
    acme = KeyFormat("acme")
    key = acme.generate("test")
    text = f"acme={key} tdoc={FORMAT.generate('live')}"
    assert [(f.text, f.environment) for f in acme.find_keys(text)] == [(key, "test")]


@given(
    environments,
    random_parts,
    st.integers(0, RANDOM_LENGTH + CHECKSUM_LENGTH - 1),
    st.characters(blacklist_categories=("Cs",)).filter(lambda c: c not in BASE62),
)
def test_a_character_outside_base62_anywhere_after_the_prefix_is_malformed(
    environment: str, random: str, position: int, intruder: str
) -> None:
    # Letters and digits of other scripts (such as "٣" or "é") are not base62 either.
    key = make_key(environment, random)
    start = len(f"tdoc_{environment}_") + position
    altered = key[:start] + intruder + key[start + 1 :]
    assert not FORMAT.is_well_formed(altered)
    assert FORMAT.problem(altered) is not None


@given(st.text(alphabet=BASE62 + "_-", max_size=50) | st.text(max_size=50))
def test_well_formed_is_exactly_having_no_problem(text: str) -> None:
    assert FORMAT.is_well_formed(text) == (FORMAT.problem(text) is None)
    with_prefix = "tdoc_live_" + text
    assert FORMAT.is_well_formed(with_prefix) == (FORMAT.problem(with_prefix) is None)
