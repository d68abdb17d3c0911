"""Cursors for keyset pagination: where the next page starts, opaque to callers.

A page is ordered newest first by ``(time in µs, id)``; its cursor is the position of its
last item, and the next page holds what comes strictly after it.
"""

from __future__ import annotations

import base64
import binascii
import json


def encode_position(micros: int, item_id: str) -> str:
    raw = json.dumps([micros, item_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_position(cursor: str) -> tuple[int, str] | None:
    """The position in ``cursor``, or ``None`` when it is not one of ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        micros, item_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError, binascii.Error, AttributeError):
        return None
    if isinstance(micros, bool) or not isinstance(micros, int) or not isinstance(item_id, str):
        return None
    return micros, item_id
