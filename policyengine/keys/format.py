"""The text of an API key: a prefix (``tdoc_live_``, as the policy set's ``key_prefix``
names it) + 30 random base62 characters + a 6-character checksum.

The checksum is CRC32 of everything before it, written in base62, as GitHub's tokens do:
a typo or a truncated key is caught offline, without a store lookup, and a scanner can
tell a real key from text that merely looks like one. It is no defence against forgery
(anyone can compute a CRC); the 178 random bits are.

Error messages never repeat the text they were given: it may be a real secret.
"""

from __future__ import annotations

import re
import secrets
import zlib
from dataclasses import dataclass, field
from typing import cast

from policyengine.errors import ConfigError, Diagnostic, InvalidValue, Location, PolicyError
from policyengine.policy.model import PolicySet
from policyengine.record import DEFAULT_KEY_PREFIX, ENVIRONMENTS, KEY_PREFIX, Environment

BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
RANDOM_LENGTH = 30
CHECKSUM_LENGTH = 6
#: Bits of randomness in a key: 30 × log2(62).
ENTROPY_BITS = 178

_BASE62_SET = frozenset(BASE62)
_BASE62_VALUE = {char: value for value, char in enumerate(BASE62)}


def base62(number: int, width: int) -> str:
    """``number`` in base62, zero-padded to ``width`` characters."""
    digits = []
    while number:
        number, digit = divmod(number, 62)
        digits.append(BASE62[digit])
    return "".join(reversed(digits)).rjust(width, BASE62[0])


def checksum(body: str) -> str:
    """The 6-character checksum of ``body`` (everything that precedes it in a key)."""
    return base62(zlib.crc32(body.encode("ascii")), CHECKSUM_LENGTH)


def _checksum_matches(key: str) -> bool:
    # Decoding the six characters is cheaper than encoding the CRC; ``key`` is base62 here.
    value = 0
    for char in key[-CHECKSUM_LENGTH:]:
        value = value * 62 + _BASE62_VALUE[char]
    return value == zlib.crc32(key[:-CHECKSUM_LENGTH].encode("ascii"))


@dataclass(frozen=True, slots=True)
class ParsedKey:
    environment: Environment
    random: str = field(repr=False)
    checksum: str
    text: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class FoundKey:
    """A well-formed key found in a larger text, at ``start`` (a character offset)."""

    text: str = field(repr=False)
    start: int
    environment: Environment


class KeyFormat:
    """The key format for one prefix (``api`` when none is named)."""

    def __init__(self, prefix: str = DEFAULT_KEY_PREFIX) -> None:
        if not isinstance(prefix, str) or not KEY_PREFIX.fullmatch(prefix):
            raise ConfigError(
                f"invalid key prefix {prefix!r}: use 2 to 16 lower-case letters and digits, "
                "starting with a letter, such as 'tdoc'"
            )
        self.prefix = prefix
        self.length = len(self.key_prefix("live")) + RANDOM_LENGTH + CHECKSUM_LENGTH
        self._prefixes = tuple((env, self.key_prefix(env)) for env in ENVIRONMENTS)
        # A key is recognised in running text only where no base62 character touches it,
        # so that the tail of a longer token is not taken for a key.
        body = RANDOM_LENGTH + CHECKSUM_LENGTH
        self._exact = re.compile(rf"{prefix}_(?:live|test)_[0-9A-Za-z]{{{body}}}")
        self._pattern = re.compile(
            rf"(?<![0-9A-Za-z]){prefix}_(live|test)_[0-9A-Za-z]{{{body}}}(?![0-9A-Za-z])"
        )

    def require_prefix_of(self, policy: PolicySet, where: str) -> None:
        """Refuse, as a policy error at ``where``, a policy set that names another prefix:
        keys of this one would stop working under it."""
        named = policy.key_prefix or DEFAULT_KEY_PREFIX
        if named != self.prefix:
            message = (
                f"key_prefix is now {named!r}, not {self.prefix!r}: a running engine keeps "
                "its prefix, or its keys would stop working; restart it to change the prefix"
            )
            raise PolicyError([Diagnostic(Location.whole(where), message)])

    def key_prefix(self, environment: Environment) -> str:
        """What every key of ``environment`` starts with: ``tdoc_live_``."""
        return f"{self.prefix}_{environment}_"

    def generate(self, environment: Environment) -> str:
        if environment not in ENVIRONMENTS:
            raise InvalidValue(f"invalid environment {environment!r}: use 'test' or 'live'")
        body = self.key_prefix(environment) + "".join(
            secrets.choice(BASE62) for _ in range(RANDOM_LENGTH)
        )
        return body + checksum(body)

    def problem(self, text: object) -> str | None:
        """Why ``text`` is not a well-formed key, or ``None`` when it is one."""
        if not isinstance(text, str) or not text:
            return "not an API key: it is empty"
        environment = self._environment(text)
        if environment is None:
            return (
                f"not an API key of ours: it should start with "
                f"{self.key_prefix('live')} or {self.key_prefix('test')}"
            )
        if len(text) != self.length:
            body = self.length - len(self.key_prefix(environment))
            return (
                f"malformed API key: {len(text) - len(self.key_prefix(environment))} characters "
                f"follow the prefix, not {body} (was it truncated or extended?)"
            )
        # The pattern says at once whether every character is base62; only when one is
        # not is it looked for, to say where.
        if self._exact.fullmatch(text) is None:
            for position, char in enumerate(text[len(self.key_prefix(environment)) :]):
                if char not in _BASE62_SET:
                    return (
                        f"malformed API key: character {position + 1} after the prefix is "
                        "not a letter or a digit"
                    )
        if not _checksum_matches(text):
            return "malformed API key: its checksum does not match (was it mistyped?)"
        return None

    def is_well_formed(self, text: object) -> bool:
        """:meth:`problem` is ``None``, answered fast: this is on every request's path."""
        if not isinstance(text, str) or len(text) != self.length:
            return False
        return self._exact.fullmatch(text) is not None and _checksum_matches(text)

    def parse(self, text: object) -> ParsedKey:
        reason = self.problem(text)
        if reason is not None:
            raise InvalidValue(reason)
        key = cast(str, text)
        environment: Environment = "live" if key.startswith(self.key_prefix("live")) else "test"
        start = len(self.key_prefix(environment))
        return ParsedKey(
            environment=environment,
            random=key[start : start + RANDOM_LENGTH],
            checksum=key[-CHECKSUM_LENGTH:],
            text=key,
        )

    def find_keys(self, text: str) -> list[FoundKey]:
        """Every well-formed key in ``text``; look-alikes with a wrong checksum are skipped."""
        found = []
        for match in self._pattern.finditer(text):
            key = match.group(0)
            if checksum(key[:-CHECKSUM_LENGTH]) == key[-CHECKSUM_LENGTH:]:
                found.append(FoundKey(key, match.start(), cast(Environment, match.group(1))))
        return found

    def mask(self, text: str) -> str:
        """A key as it may be shown: its prefix and last four characters."""
        environment = self._environment(text)
        shown = self.key_prefix(environment) if environment else ""
        return f"{shown}…{text[-4:]}"

    def _environment(self, text: str) -> Environment | None:
        for environment, prefix in self._prefixes:
            if text.startswith(prefix):
                return environment
        return None
