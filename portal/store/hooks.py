"""Hooks in the database, with the secret each one's deliveries are signed with."""

from __future__ import annotations

import base64
import builtins
import json
import secrets
from dataclasses import dataclass

from policyengine.db import Database, Row, Run
from policyengine.keys.codec import from_micros, to_micros
from portal.models.common import Page
from portal.models.hooks import Hook, HookFields, subscribed
from portal.store.database import Clock, new_id, written
from portal.store.paging import Listing

_COLUMNS = "id, url, events, description, created_at"
#: The most hooks one key may have registered at once. Every event is delivered to every
#: hook that wants it, so without a bound one key could turn each event (and each
#: ``notify`` step of its tasks) into any number of deliveries.
MAX_HOOKS_PER_KEY = 20


class TooManyHooks(Exception):
    """The key has registered :data:`MAX_HOOKS_PER_KEY` hooks already."""


@dataclass(frozen=True, slots=True)
class Subscriber:
    hook: Hook
    secret: str


def new_secret() -> str:
    """A Standard Webhooks signing secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def _hook(row: Row) -> Hook:
    return Hook(
        id=row[0],
        url=row[1],
        events=json.loads(row[2]),
        description=row[3],
        created_at=from_micros(row[4]),
    )


_HOOKS = Listing("tdoc_hooks", _COLUMNS, _hook, lambda h: (h.created_at, h.id))


class HookStore:
    def __init__(self, database: Database, clock: Clock, *, shared: bool = False) -> None:
        """``shared``: several transactions may write at once (PostgreSQL), so a create
        takes a lock on its key's hooks before it counts them; SQLite's write lock is one
        already."""
        self._db = database
        self._clock = clock
        self._shared = shared

    def create(self, fields: HookFields, created_by: str) -> tuple[Hook, str]:
        """The hook and its secret; :class:`TooManyHooks` if ``created_by`` has its fill."""
        hook_id, secret = new_id("hk"), new_secret()
        with self._db.transaction(write=True) as run:
            if self._shared:
                # Two creates at once would each count the other out and both insert.
                run("SELECT pg_advisory_xact_lock(hashtext(?))", (f"tdoc_hooks:{created_by}",))
            rows, _ = run("SELECT COUNT(*) FROM tdoc_hooks WHERE created_by = ?", (created_by,))
            if int(rows[0][0]) >= MAX_HOOKS_PER_KEY:
                raise TooManyHooks(
                    f"this key has registered {MAX_HOOKS_PER_KEY} hooks, the most one key "
                    "may have; delete one it no longer needs first"
                )
            run(
                "INSERT INTO tdoc_hooks (id, url, events, description, secret, created_at, "
                "created_by) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    hook_id,
                    fields.url,
                    json.dumps(fields.events),
                    fields.description,
                    secret,
                    to_micros(self._clock()),
                    created_by,
                ),
            )
            return written(self._get(run, hook_id), hook_id), secret

    def get(self, hook_id: str) -> Hook | None:
        with self._db.transaction(write=False) as run:
            return self._get(run, hook_id)

    def list(self, limit: int, cursor: str | None) -> Page[Hook]:
        with self._db.transaction(write=False) as run:
            return _HOOKS.page(run, limit, cursor)

    def delete(self, hook_id: str) -> bool:
        with self._db.transaction(write=True) as run:
            _, count = run("DELETE FROM tdoc_hooks WHERE id = ?", (hook_id,))
        return count == 1

    def secret(self, hook_id: str) -> str | None:
        """The secret ``hook_id``'s deliveries are signed with; ``None`` once it is gone."""
        with self._db.transaction(write=False) as run:
            rows, _ = run("SELECT secret FROM tdoc_hooks WHERE id = ?", (hook_id,))
        return str(rows[0][0]) if rows else None

    def subscribers(self, kind: str) -> builtins.list[Subscriber]:
        """Every hook that wants events of ``kind``, with its signing secret."""
        with self._db.transaction(write=False) as run:
            rows, _ = run(f"SELECT {_COLUMNS}, secret FROM tdoc_hooks ORDER BY id", ())  # noqa: S608
        hooks = [Subscriber(_hook(row), row[5]) for row in rows]
        return [s for s in hooks if subscribed(s.hook.events, kind)]

    @staticmethod
    def _get(run: Run, hook_id: str) -> Hook | None:
        rows, _ = run(f"SELECT {_COLUMNS} FROM tdoc_hooks WHERE id = ?", (hook_id,))  # noqa: S608
        return _hook(rows[0]) if rows else None
