"""What each ``policyengine keys`` command does, and how it prints its answer."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from policyengine.cli.keys_view import key_details, key_table
from policyengine.cli.options import cli_actor, monitor_url, redis_url, store_url
from policyengine.cli.output import FAILED, MISUSE, OK, moment, print_error, print_json, table
from policyengine.errors import KeyRequestError, PolicyEngineError, StorageError
from policyengine.keys.codec import record_to_json
from policyengine.keys.format import KeyFormat
from policyengine.keys.manager import KeyManager
from policyengine.keys.pages import IssuedKey
from policyengine.keys.scan import Finding, scan_paths
from policyengine.monitor import Monitor
from policyengine.policy.model import PolicySet
from policyengine.record import DEFAULT_KEY_PREFIX, KeyRecord, Refill, Usage

#: Key states under which a leaked secret still works, or can be made to work again.
LIVE = ("active", "rotated", "disabled", "unchecked")


def create(args: argparse.Namespace) -> int:
    with _manager(args, create=True) as manager:
        issued = manager.create(
            type=args.type,
            label=args.label,
            environment=args.env,
            expires_in=args.expires_in,
            allowed_ips=args.allowed_ip,
            scopes=args.scope,
            rate_limit=args.rate_limit,
            rate_limits=_pairs(args.limit, "--limit"),
            usage=_usage(args.usage),
            metadata=_pairs(args.metadata, "--metadata"),
            actor=cli_actor(),
        )
    _issued(args, issued, f"Created key {issued.key.id}")
    return OK


def list_keys(args: argparse.Namespace) -> int:
    with _manager(args) as manager:
        page = manager.list(
            environment=args.env,
            type=args.type,
            state=args.state,
            label=args.label,
            limit=args.limit,
            cursor=args.cursor,
        )
    now = _now()
    if args.json:
        print_json(
            {"keys": [record_to_json(r, now) for r in page], "next_cursor": page.next_cursor}
        )
    else:
        print(key_table(page, now))
        if page.next_cursor:
            print(f"\nmore keys: add --cursor {page.next_cursor}")
    return OK


def show(args: argparse.Namespace) -> int:
    with _manager(args) as manager:
        record = manager.get(args.key_id)
    _record(args, record)
    return OK


def rotate(args: argparse.Namespace) -> int:
    with _manager(args) as manager:
        issued = manager.rotate(
            args.key_id, grace=args.grace, expires_in=args.expires_in, actor=cli_actor()
        )
        until = manager.get(args.key_id).grace_until
    headline = f"Rotated {args.key_id} (it works until {moment(until)}) to {issued.key.id}"
    _issued(args, issued, headline)
    return OK


def change(method: str) -> Callable[[argparse.Namespace], int]:
    """The handler of ``disable``, ``enable`` or ``revoke``."""

    def run_change(args: argparse.Namespace) -> int:
        with _manager(args) as manager:
            if method == "revoke":
                record = manager.revoke(args.key_id, reason=args.reason, actor=cli_actor())
            else:
                record = getattr(manager, method)(args.key_id, actor=cli_actor())
        _record(args, record)
        return OK

    return run_change


def scan(args: argparse.Namespace) -> int:
    key_format = _key_format(args)
    result = scan_paths(args.paths, key_format)
    rows: list[tuple[Finding, str, str]] = []
    revoked: list[str] = []
    with _maybe_manager(args) as manager:
        for finding in result.findings:
            status, key_id = _status(manager, finding)
            if args.revoke and manager is not None and status in LIVE:
                status = _revoke(manager, key_id, finding, revoked)
            rows.append((finding, status, key_id))
    live = sorted({key_id or finding.secret for finding, status, key_id in rows if status in LIVE})
    if args.json:
        print_json(
            {
                "findings": [
                    {
                        "where": f.where,
                        "key": key_format.mask(f.secret),
                        "status": status,
                        "key_id": key_id or None,
                    }
                    for f, status, key_id in rows
                ],
                "revoked": revoked,
                "skipped": [{"path": str(s.path), "reason": s.reason} for s in result.skipped],
            }
        )
    else:
        if rows:
            print(
                table(
                    ("WHERE", "KEY", "STATUS", "ID"),
                    [
                        [f.where, key_format.mask(f.secret), status, key_id]
                        for f, status, key_id in rows
                    ],
                )
            )
        for key_id in revoked:
            print(f"revoked {key_id}")
        print(
            f"{len(rows)} key(s) found in {result.files} file(s) scanned, {len(live)} still live"
            + (f"; {len(result.skipped)} skipped" if result.skipped else "")
        )
    for unread in result.unreadable:
        print_error(f"cannot scan {unread.path}: {unread.reason}")
    if result.unreadable:
        return MISUSE
    return FAILED if live else OK


def _revoke(manager: KeyManager, key_id: str, finding: Finding, revoked: list[str]) -> str:
    """Revoke a leaked key once, recording where it was found; its status after."""
    if key_id in revoked:
        return "revoked"
    try:
        manager.revoke(
            key_id, reason="leaked", details={"found_in": finding.where}, actor=cli_actor()
        )
    except PolicyEngineError as error:
        # One key that cannot be revoked must not leave the others active: go on.
        print_error(f"could not revoke {key_id}: {error}")
        return "active"
    revoked.append(key_id)
    return "revoked"


def _status(manager: KeyManager | None, finding: Finding) -> tuple[str, str]:
    """What the store says of a key found: its state and id, ``unknown`` if it has no such
    key (another deployment's, or a test fixture), ``unchecked`` without a store."""
    if manager is None:
        return "unchecked", ""
    record = manager.lookup(finding.secret, touch=False)
    if record is None:
        return "unknown", ""
    return record.state(_now()), record.id


@contextmanager
def _maybe_manager(args: argparse.Namespace) -> Iterator[KeyManager | None]:
    if args.offline:
        if args.revoke:
            raise KeyRequestError("--revoke needs the key store; drop --offline")
        yield None
        return
    try:
        manager = _open(args, create=False)
    except StorageError as error:
        if args.revoke:
            raise
        print_error(f"{error}; keys found cannot be checked against it")
        yield None
        return
    try:
        with _audited(args, manager):
            yield manager
    finally:
        manager.close()


@contextmanager
def _manager(args: argparse.Namespace, *, create: bool = False) -> Iterator[KeyManager]:
    manager = _open(args, create=create)
    try:
        with _audited(args, manager):
            yield manager
    finally:
        manager.close()


@contextmanager
def _audited(args: argparse.Namespace, manager: KeyManager) -> Iterator[None]:
    """Every change the command makes goes to the audit log, as the engine's would: the
    monitor beside the key store (or ``--monitor``) is open while it runs."""
    audit_key, ephemeral = manager.derived_secret("audit")
    url = monitor_url(args.monitor, args.store)
    if ephemeral or url == "off":
        yield
        return
    monitor = Monitor.open(url, clock=_now, audit_key=audit_key)
    manager.listen(monitor.key_event)
    try:
        yield
    finally:
        monitor.close()


def _open(args: argparse.Namespace, *, create: bool) -> KeyManager:
    return KeyManager.open(
        store_url(args.store),
        _policies(args),
        redis=redis_url(args.redis),
        listen=False,
        create=create,
        key_format=_key_format(args),
        maintenance_interval=None,
    )


def _key_format(args: argparse.Namespace) -> KeyFormat:
    """``--key-prefix``, else the ``key_prefix`` of the policies (which must then load: a
    scan for the wrong prefix would find nothing and pass for an all-clear)."""
    if args.key_prefix is None:
        args.key_prefix = _policies(args)().key_prefix or DEFAULT_KEY_PREFIX
    return KeyFormat(args.key_prefix)


def _policies(args: argparse.Namespace) -> Callable[[], PolicySet]:
    """The policies of ``--policies``, loaded on first need and once per command."""
    loader: Callable[[], PolicySet] | None = getattr(args, "policy_loader", None)
    if loader is not None:
        return loader
    loaded: list[PolicySet] = []

    def load() -> PolicySet:
        if not loaded:
            # Imported on first need: with --key-prefix, revoking or scanning never needs
            # the policy files, and the loader brings in the whole policy language.
            from policyengine.policy.loader import load_directory

            loaded.append(load_directory(args.policies))
        return loaded[0]

    args.policy_loader = load
    return load


def _issued(args: argparse.Namespace, issued: IssuedKey, headline: str) -> None:
    if args.json:
        print_json({"secret": issued.secret, "key": record_to_json(issued.key, _now())})
        return
    key = issued.key
    print(f"{headline} ({key.type}, {key.environment}): {key.label}")
    print(f"Expires: {moment(key.expires_at, 'never')}\n")
    print(f"    {issued.secret}\n")
    print("This is the only time the secret is shown. Store it now: it cannot be recovered.")


def _record(args: argparse.Namespace, record: KeyRecord) -> None:
    if args.json:
        print_json(record_to_json(record, _now()))
    else:
        print(key_details(record, _now()))


def _pairs(values: list[str] | None, option: str) -> dict[str, str] | None:
    if not values:
        return None
    pairs = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise KeyRequestError(f"{option} takes NAME=VALUE, not {value!r}")
        pairs[name] = text
    return pairs


def _usage(value: str | None) -> Usage | None:
    if value is None:
        return None
    credits, _, refill = value.partition("/")
    refills: dict[str, Refill] = {"daily": "daily", "monthly": "monthly", "never": "never"}
    if not credits.isdigit() or (refill or "monthly") not in refills:
        raise KeyRequestError(f"--usage takes CREDITS[/daily|monthly|never], not {value!r}")
    return Usage(int(credits), refills[refill or "monthly"])


def _now() -> datetime:
    return datetime.now(UTC)
