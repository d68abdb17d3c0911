"""The first admin key: made by the first start on a store that holds no key at all, and
never again, whichever instance starts first."""

from __future__ import annotations

from policyengine.db import Database
from policyengine.engine import Engine
from policyengine.keys.codec import to_micros
from policyengine.keys.pages import IssuedKey
from portal.store.database import Clock

MARK = "admin key created"
#: What the admin key is called, in the key list.
LABEL = "admin (created by policyengine serve on first start)"
#: Who made it, in the audit log.
ACTOR = "policyengine serve"


def admin_type(engine: Engine) -> str | None:
    """The key type that grants everything: ``full-access`` when the policies have it."""
    kinds = engine.policy_set().key_types
    everything = [
        name
        for name, kind in kinds.items()
        if kind.scopes is not None and any(str(scope) == "*" for scope in kind.scopes)
    ]
    if "full-access" in everything:
        return "full-access"
    return everything[0] if everything else None


def first_admin_key(engine: Engine, database: Database, clock: Clock) -> IssuedKey | None:
    """A full-access key, if the store has never held a key and none was made before; the
    mark that one was made is taken first, in one transaction, so that of two instances
    starting at once only one makes it."""
    kind = admin_type(engine)
    if kind is None or len(engine.keys.list(limit=1)) > 0:
        return None
    with database.transaction(write=True) as run:
        _, taken = run(
            "INSERT INTO tdoc_settings (name, value, set_at) VALUES (?, ?, ?) "
            "ON CONFLICT (name) DO NOTHING",
            (MARK, "", to_micros(clock())),
        )
    if taken != 1:
        return None
    try:
        issued = engine.keys.create(
            type=kind, label=LABEL, environment=engine.environment, actor=ACTOR
        )
    except BaseException:
        # Made by nobody: the next start may try again.
        with database.transaction(write=True) as run:
            run("DELETE FROM tdoc_settings WHERE name = ?", (MARK,))
        raise
    with database.transaction(write=True) as run:
        run("UPDATE tdoc_settings SET value = ? WHERE name = ?", (issued.key.id, MARK))
    return issued


def announcement(issued: IssuedKey) -> str:
    """What the server prints about the key: what it is for, then the secret on its own
    line."""
    key = issued.key
    until = f"expires {key.expires_at:%Y-%m-%d}" if key.expires_at else "does not expire"
    return (
        f"policyengine serve: the store held no keys, so here is an admin key ({key.type}, "
        f"{key.environment}, {until}, id {key.id}).\n"
        "It manages keys and everything else in the API. It is shown this once: keep it now.\n"
        f"{issued.secret}\n"
    )
