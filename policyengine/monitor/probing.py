"""Probing: many denials in a short time, for one key, or for one client address
without a valid key — unknown keys, bad checksums, scopes asked for and not held."""

from __future__ import annotations

from collections import OrderedDict, deque

from policyengine.decision import Code
from policyengine.monitor.alerts import Sign, SubjectType
from policyengine.monitor.rows import CLIENT, CODE, KEY_ID, MOMENT, DecisionRow
from policyengine.units import format_duration

#: Denials that look like probing: credentials that are no key of ours, and asking for
#: what a key may not do. (Revoked keys and the wrong environment have kinds of their own;
#: rate limits are not probing.) By their values, as decision rows hold codes.
PROBING = frozenset(
    code.value
    for code in (
        Code.MISSING_CREDENTIAL,
        Code.MALFORMED_CREDENTIAL,
        Code.NOT_FOUND,
        Code.TOKEN_INVALID,
        Code.INSUFFICIENT_SCOPE,
        Code.DENIED_BY_POLICY,
        Code.IP_NOT_ALLOWED,
    )
)
#: Keys and addresses watched at once; past it the longest unseen are forgotten.
MAX_WATCHED = 100_000


class DenialBursts:
    """A sliding window of the latest denials of each key and address."""

    def __init__(self) -> None:
        self._windows: OrderedDict[str, deque[tuple[float, str]]] = OrderedDict()

    def add(self, row: DecisionRow, burst: tuple[int, float], signs: list[Sign]) -> None:
        """Count a denial; ``burst`` is ``denial_burst``'s ``(denials, within)``."""
        key_id = row[KEY_ID]
        subject_type: SubjectType = "key" if key_id is not None else "address"
        subject = key_id or row[CLIENT]
        if subject is None:
            return
        count, within = burst
        window = self._windows.get(subject)
        if window is None or window.maxlen != count:
            window = self._windows[subject] = deque(maxlen=count)
            if len(self._windows) > MAX_WATCHED:
                self._windows.popitem(last=False)
        else:
            self._windows.move_to_end(subject)
        at = row[MOMENT]
        now = at.timestamp()
        window.append((now, row[CODE]))
        span = now - window[0][0]
        if len(window) == count and span <= within:
            codes: dict[str, int] = {}
            for _, code in window:
                codes[code] = codes.get(code, 0) + 1
            signs.append(
                Sign(
                    "denial_burst",
                    subject,
                    subject_type,
                    at,
                    f"{count} denials within {format_duration(round(span))} "
                    f"for {subject_type} {subject}",
                    {
                        "denials": count,
                        "span_seconds": round(span, 3),
                        "window_seconds": within,
                        "codes": codes,
                    },
                )
            )
