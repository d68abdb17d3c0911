"""Rate limits (GCRA) and usage credits, kept in memory or in Redis; see docs/rate-limits.md."""

from policyengine.limits.base import Limiter, fails_open, open_limiter, register_scheme
from policyengine.limits.headers import RateLimitHeaders, rate_limit_headers
from policyengine.limits.memory import MemoryLimiter
from policyengine.limits.outcome import USAGE, LimitCode, LimitOutcome, LimitState

__all__ = [
    "USAGE",
    "LimitCode",
    "LimitOutcome",
    "LimitState",
    "Limiter",
    "MemoryLimiter",
    "RateLimitHeaders",
    "fails_open",
    "open_limiter",
    "rate_limit_headers",
    "register_scheme",
]
