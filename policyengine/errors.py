"""One error tree for the whole package; every error carries a stable ``code``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Location:
    """A place in a policy file; ``line`` and ``column`` count from 1, and are 0 for a
    problem of a whole file or directory (one too large, or with no policy files)."""

    file: str
    line: int
    column: int

    @classmethod
    def whole(cls, file: str) -> Location:
        return cls(file, 0, 0)

    def __str__(self) -> str:
        if self.line == 0:
            return self.file
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Diagnostic:
    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class PolicyEngineError(Exception):
    """Base of every error the package raises on purpose."""

    code = "error"


class PolicyError(PolicyEngineError):
    """A policy set that does not load; ``diagnostics`` lists every problem found."""

    code = "policy_invalid"

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = sorted(
            diagnostics,
            key=lambda d: (d.location.file, d.location.line, d.location.column),
        )
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class InvalidValue(PolicyEngineError, ValueError):
    """A value (duration, rate, scope, address, …) that does not parse."""

    code = "invalid_value"


class ConfigError(PolicyEngineError):
    """Engine configuration that cannot work (a bad store URL, a missing secret, …)."""

    code = "config_invalid"


class KeyRequestError(PolicyEngineError):
    """A key operation refused by the policy set or by its own arguments."""

    code = "key_request_invalid"


class KeyConflict(KeyRequestError):
    """A key change that the key's state forbids: a revoked key rotated, a rotated key
    updated, a change that kept colliding with others."""

    code = "key_conflict"


class KeyNotFound(PolicyEngineError, LookupError):
    code = "key_not_found"


class StorageError(PolicyEngineError):
    """Any failure of a key store or limiter backend; the engine decides what it means."""

    code = "storage_unavailable"


class TokenError(PolicyEngineError):
    code = "token_invalid"


class MonitorError(PolicyEngineError):
    """A monitor query refused by its own arguments, or asked of a monitor that is off."""

    code = "monitor_request_invalid"
