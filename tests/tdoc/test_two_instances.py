"""Two servers on one PostgreSQL and one Redis: a run triggered on one executes exactly
once, a key revoked through one is refused by the other within a second, and the rate
limit holds across both."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from .conftest import EVENT
from .served import Served, poll_run, serve


@pytest.fixture
def redis_url() -> str:
    from keys.support import REDIS_URL, require_server

    require_server(REDIS_URL, "Redis")
    return REDIS_URL


@pytest.fixture
def pair(tmp_path: Path, postgres_url: str, redis_url: str) -> Iterator[tuple[Served, Served]]:
    with ExitStack() as stack:
        shared = {"store": postgres_url, "limiter": redis_url, "redis": redis_url}
        first = stack.enter_context(serve(tmp_path / "a", **shared))
        second = stack.enter_context(serve(tmp_path / "b", **shared))
        yield first, second


@pytest.fixture
def tmp_path(tmp_path: Path) -> Path:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    return tmp_path


def test_one_admin_key_for_both(pair: tuple[Served, Served]) -> None:
    first, second = pair
    assert first.admin_key is not None
    assert second.admin_key is None


def test_each_run_executes_exactly_once(pair: tuple[Served, Served]) -> None:
    first, second = pair
    admin = first.admin_key
    with first.client(admin) as a, second.client(admin) as b:
        task = a.post(
            "/v1/tasks",
            json={
                "name": "make one event",
                "steps": [
                    {"type": "request", "method": "POST", "path": "/v1/events", "body": EVENT},
                    {"type": "wait", "duration": "200ms"},
                ],
            },
        ).json()
        locations = [
            client.post(f"/v1/tasks/{task['id']}/runs").headers["Location"]
            for client in (a, b, a, b, a, b, a, b)
        ]
        runs = [poll_run(b if n % 2 else a, location) for n, location in enumerate(locations)]
        events = a.get("/v1/events", params={"limit": 100}).json()["data"]
    assert [run["state"] for run in runs] == ["succeeded"] * 8
    assert [run["attempts"] for run in runs] == [1] * 8
    made = {run["steps"][0]["result"]["body"]["id"] for run in runs}  # type: ignore[index]
    assert made == {event["id"] for event in events}
    assert len(events) == 8


def test_a_key_revoked_on_one_is_refused_by_the_other_within_a_second(
    pair: tuple[Served, Served],
) -> None:
    first, second = pair
    with first.client(first.admin_key) as a:
        created = a.post("/v1/keys", json={"type": "read-only", "label": "soon revoked"}).json()
    with second.client(created["secret"]) as b:
        assert b.get("/v1/events").status_code == 200  # now in the second's cache
        with first.client(first.admin_key) as a:
            assert a.post(f"/v1/keys/{created['key']['id']}/revoke").status_code == 200
        revoked_at = time.monotonic()
        while (answer := b.get("/v1/events")).status_code == 200:
            assert time.monotonic() - revoked_at < 1.0, "still accepted a second later"
            time.sleep(0.02)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "REVOKED"


def test_the_rate_limit_holds_across_both(pair: tuple[Served, Served]) -> None:
    first, second = pair
    with first.client(first.admin_key) as a:
        secret = a.post(
            "/v1/keys", json={"type": "read-only", "label": "limited", "rate_limit": "10/minute"}
        ).json()["secret"]
    with first.client(secret) as a, second.client(secret) as b:
        answers = [(a if n % 2 else b).get("/v1/events") for n in range(20)]
    statuses = [answer.status_code for answer in answers]
    assert statuses.count(200) == 10
    assert statuses.count(429) == 10
    assert all(answer.headers["Retry-After"] for answer in answers if answer.status_code == 429)
