"""Verifying the audit log: the first entry that was changed, deleted, inserted or
reordered, or a tail that was cut off.

The entries are read in order, a chunk at a time. Each must carry the HMAC its content
and link call for, and link to the entry before it. Where that fails, the neighbours say
what happened: an entry whose HMAC is wrong but whose successor links past it was
inserted; one whose HMAC is wrong and nothing links past was changed (or the log was
rewritten without the secret); one that is sound but links to an entry further on was
moved; one that links to an entry no longer there follows a deletion.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from policyengine.monitor.audit import GENESIS, AuditEntry, AuditHead, Chain

Problem = Literal["changed", "deleted", "inserted", "reordered", "truncated"]
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class AuditProblem:
    kind: Problem
    #: The entry where it shows.
    seq: int
    message: str


@dataclass(frozen=True, slots=True)
class Verification:
    #: Entries that were checked and found sound.
    checked: int
    #: The last entry's place and HMAC, as the log stands.
    head: AuditHead | None
    problem: AuditProblem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


class AuditSource(Protocol):
    def audit_entries(self, after: int, limit: int) -> Sequence[AuditEntry]:
        """Entries after seq ``after``, in order, at most ``limit``."""

    def audit_seq_of(self, mac: str) -> int | None:
        """The first entry whose HMAC is ``mac``, if any."""


def verify(source: AuditSource, chain: Chain, expected: AuditHead | None = None) -> Verification:
    checked = 0
    prev = GENESIS
    last: AuditEntry | None = None
    entries = _entries(source)
    current = next(entries, None)
    while current is not None:
        following = next(entries, None)
        problem = _judge(source, chain, current, prev, following)
        if problem is not None:
            return Verification(checked, _head(last), problem)
        checked += 1
        prev, last, current = current.mac, current, following
    head = _head(last)
    if expected is not None:
        problem = _compare(source, head, expected)
        if problem is not None:
            return Verification(checked, head, problem)
    return Verification(checked, head)


def _entries(source: AuditSource) -> Iterator[AuditEntry]:
    after = 0
    while True:
        chunk = source.audit_entries(after, _CHUNK)
        yield from chunk
        if len(chunk) < _CHUNK:
            return
        after = chunk[-1].seq


def _judge(
    source: AuditSource,
    chain: Chain,
    entry: AuditEntry,
    prev: str,
    following: AuditEntry | None,
) -> AuditProblem | None:
    seq = entry.seq
    if not chain.holds(entry):
        if following is not None and following.prev == prev and chain.holds(following):
            return AuditProblem(
                "inserted", seq, f"entry {seq} was inserted: the entry after it links past it"
            )
        return AuditProblem(
            "changed",
            seq,
            f"entry {seq} was changed: its content does not match its HMAC (or the log was "
            "rewritten without the secret)",
        )
    if entry.prev == prev:
        return None
    linked = source.audit_seq_of(entry.prev)
    if linked is None:
        return AuditProblem(
            "deleted",
            seq,
            f"the entry before entry {seq} was deleted: it links to an entry the log no "
            "longer holds",
        )
    if linked >= seq:
        return AuditProblem(
            "reordered",
            seq,
            f"entry {seq} is out of order: it belongs after entry {linked}",
        )
    original = source.audit_seq_of(entry.mac)
    if original is not None and original < seq:
        return AuditProblem(
            "inserted", seq, f"entry {seq} was inserted: it is a copy of entry {original}"
        )
    return AuditProblem(
        "reordered", seq, f"entry {seq} is out of order: it belongs after entry {linked}"
    )


def _compare(
    source: AuditSource, head: AuditHead | None, expected: AuditHead
) -> AuditProblem | None:
    last = head.seq if head is not None else 0
    if last < expected.seq:
        return AuditProblem(
            "truncated",
            last,
            f"the log ends at entry {last}, before the head {expected.seq} given: entries "
            "were cut off its end",
        )
    if source.audit_seq_of(expected.mac) != expected.seq:
        return AuditProblem(
            "truncated",
            expected.seq,
            f"entry {expected.seq} is not the head given: the log was cut off before it and "
            "written on since",
        )
    return None


def _head(entry: AuditEntry | None) -> AuditHead | None:
    return AuditHead(entry.seq, entry.mac) if entry is not None else None
