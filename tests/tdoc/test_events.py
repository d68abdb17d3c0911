"""Events and their members over the API: what is stored is what comes back, a change
is validated like a new event, and an event's members go with it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import EVENT, Keys, bearer


def create(client: TestClient, key: str, **changes: object) -> dict[str, object]:
    response = client.post("/v1/events", json={**EVENT, **changes}, headers=bearer(key))
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    assert response.headers["Location"] == f"/v1/events/{body['id']}"
    return body


def test_an_event_comes_back_as_written_with_its_offsets(client: TestClient, keys: Keys) -> None:
    event = create(client, keys.writer, description="Roadmap")
    assert event["starts_at"] == "2026-03-02T09:00:00+01:00"
    assert event["ends_at"] == "2026-03-02T17:30:00+01:00"
    assert event["created_by"] == keys.ids["writer"]
    fetched = client.get(f"/v1/events/{event['id']}", headers=bearer(keys.reader)).json()
    assert fetched == event


def test_an_event_ending_before_it_starts_is_refused(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/events",
        json={**EVENT, "ends_at": "2026-03-02T07:59:00Z"},
        headers=bearer(keys.writer),
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {"field": "ends_at", "message": "ends_at must not be before starts_at"}
    ]
    assert client.get("/v1/events", headers=bearer(keys.reader)).json()["data"] == []


def test_times_without_an_offset_are_refused(client: TestClient, keys: Keys) -> None:
    response = client.post(
        "/v1/events",
        json={**EVENT, "starts_at": "2026-03-02T09:00:00"},
        headers=bearer(keys.writer),
    )
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["error"]["details"]] == ["starts_at"]


def test_patch_changes_what_is_given_and_validates_the_result(
    client: TestClient, keys: Keys
) -> None:
    event = create(client, keys.writer)
    path = f"/v1/events/{event['id']}"
    moved = client.patch(path, json={"location": "Online"}, headers=bearer(keys.writer))
    assert moved.status_code == 200
    assert moved.json()["location"] == "Online"
    assert moved.json()["name"] == EVENT["name"]
    # The start alone moved past the stored end: the merged event does not validate.
    late = client.patch(
        path, json={"starts_at": "2026-03-03T09:00:00Z"}, headers=bearer(keys.writer)
    )
    assert late.status_code == 422
    assert late.json()["error"]["details"][0]["field"] == "ends_at"
    assert client.get(path, headers=bearer(keys.reader)).json()["location"] == "Online"
    assert client.get(path, headers=bearer(keys.reader)).json()["starts_at"] == EVENT["starts_at"]


def test_patch_refuses_what_post_refuses(client: TestClient, keys: Keys) -> None:
    event = create(client, keys.writer)
    for body in ({"name": ""}, {"name": None}, {"colour": "red"}, {"ends_at": "soon"}):
        response = client.patch(f"/v1/events/{event['id']}", json=body, headers=bearer(keys.writer))
        assert response.status_code == 422, body


def test_members_are_added_changed_listed_and_removed(client: TestClient, keys: Keys) -> None:
    event = create(client, keys.writer)
    members = f"/v1/events/{event['id']}/members"
    added = client.put(
        f"{members}/ada@example.com", json={"role": "viewer"}, headers=bearer(keys.writer)
    )
    assert added.status_code == 201
    changed = client.put(
        f"{members}/ada@example.com", json={"role": "owner"}, headers=bearer(keys.writer)
    )
    assert changed.status_code == 200
    assert changed.json()["role"] == "owner"
    listed = client.get(members, headers=bearer(keys.reader)).json()
    assert [(m["user"], m["role"]) for m in listed["data"]] == [("ada@example.com", "owner")]
    removed = client.delete(f"{members}/ada@example.com", headers=bearer(keys.writer))
    assert removed.status_code == 204
    assert client.get(members, headers=bearer(keys.reader)).json()["data"] == []
    again = client.delete(f"{members}/ada@example.com", headers=bearer(keys.writer))
    assert again.status_code == 404


def test_roles_are_viewer_editor_or_owner(client: TestClient, keys: Keys) -> None:
    event = create(client, keys.writer)
    response = client.put(
        f"/v1/events/{event['id']}/members/bob", json={"role": "admin"}, headers=bearer(keys.writer)
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["field"] == "role"


def test_deleting_an_event_deletes_its_members(client: TestClient, keys: Keys) -> None:
    first, second = create(client, keys.writer), create(client, keys.writer)
    for event in (first, second):
        client.put(
            f"/v1/events/{event['id']}/members/ada",
            json={"role": "editor"},
            headers=bearer(keys.writer),
        )
    assert client.delete(f"/v1/events/{first['id']}", headers=bearer(keys.admin)).status_code == 204
    assert client.get(f"/v1/events/{first['id']}", headers=bearer(keys.reader)).status_code == 404
    gone = client.get(f"/v1/events/{first['id']}/members", headers=bearer(keys.reader))
    assert gone.status_code == 404
    # Re-created under the same id, the event would have no members; the other keeps its own.
    kept = client.get(f"/v1/events/{second['id']}/members", headers=bearer(keys.reader)).json()
    assert [m["user"] for m in kept["data"]] == ["ada"]
    assert client.delete(f"/v1/events/{first['id']}", headers=bearer(keys.admin)).status_code == 404


def test_members_of_a_missing_event_are_a_404(client: TestClient, keys: Keys) -> None:
    response = client.put(
        "/v1/events/evt_nope/members/ada", json={"role": "viewer"}, headers=bearer(keys.writer)
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "RESOURCE_NOT_FOUND"


def test_pages_cover_every_event_once_newest_first(client: TestClient, keys: Keys) -> None:
    made = [create(client, keys.writer, name=f"event {n}")["id"] for n in range(7)]
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/events", params=query, headers=bearer(keys.reader)).json()
        seen += [e["id"] for e in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(made))


def test_members_page_by_cursor_whatever_their_user_ids(client: TestClient, keys: Keys) -> None:
    event = create(client, keys.writer)
    members = f"/v1/events/{event['id']}/members"
    users = ["ada@example.com", "bob", "chloe.d", "dan-42", "eve+test@example.org"]
    for user in users:
        added = client.put(
            f"{members}/{user}", json={"role": "viewer"}, headers=bearer(keys.writer)
        )
        assert added.status_code in (200, 201), added.text
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get(members, params=query, headers=bearer(keys.reader))
        assert response.status_code == 200, response.text
        page = response.json()
        seen += [m["user"] for m in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(users)
    assert len(seen) == len(users)


offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: m * 60)
instants = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9000, 12, 31))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(start=instants, length=st.integers(0, 10**9), start_offset=offsets, end_offset=offsets)
def test_any_start_and_end_round_trip_exactly(
    client: TestClient, keys: Keys, start: datetime, length: int, start_offset: int, end_offset: int
) -> None:
    starts = start.replace(tzinfo=timezone(timedelta(seconds=start_offset)))
    ends = (starts + timedelta(seconds=length)).astimezone(timezone(timedelta(seconds=end_offset)))
    event = create(client, keys.writer, starts_at=starts.isoformat(), ends_at=ends.isoformat())
    assert datetime.fromisoformat(str(event["starts_at"])) == starts
    assert datetime.fromisoformat(str(event["ends_at"])) == ends
    assert datetime.fromisoformat(str(event["ends_at"])).utcoffset() == ends.utcoffset()


#: Instants whose offset takes them out of the calendar once they are read in UTC.
BEYOND_UTC = ("9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59")


def test_instants_beyond_the_calendar_in_utc_are_refused_and_nothing_is_stored(
    client: TestClient, keys: Keys
) -> None:
    event = create(client, keys.writer)
    for instant in BEYOND_UTC:
        for field in ("starts_at", "ends_at"):
            for method, path in (("POST", "/v1/events"), ("PATCH", f"/v1/events/{event['id']}")):
                body = {**EVENT, field: instant} if method == "POST" else {field: instant}
                response = client.request(method, path, json=body, headers=bearer(keys.writer))
                assert response.status_code == 422, response.text
                assert [d["field"] for d in response.json()["error"]["details"]] == [field]
    listed = client.get("/v1/events", headers=bearer(keys.reader)).json()["data"]
    assert listed == [event]
