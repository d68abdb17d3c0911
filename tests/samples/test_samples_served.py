"""Every operation's code sample, in every language, as the reference shows it, run
against tDoc's real API: each gets the status that the same request sent with httpx gets
from a server in the same state (a fresh one, sent the same requests in the same order).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import httpx
import pytest

from portal.samples import LANGUAGES, Language, SampleRequest, build
from portal.web.pages import operation_samples
from portal.web.reference import Operation, read

from .runners import run_sample
from .served import Api, tdoc_api


def operations(api: Api) -> tuple[Operation, ...]:
    return read(api.app.openapi()).operations


def request_of(api: Api, op: Operation) -> SampleRequest:
    """The request the reference's samples of ``op`` make (as ``operation_samples`` does)."""
    params = {
        p.name: str(p.example) if p.example not in (None, "") else p.name.upper()
        for p in op.parameters
        if p.location == "path"
    }
    return build(
        api.url,
        op.method,
        op.path,
        path_params=params,
        query=list(op.example_params("query").items()),
        body=op.body_example,
        key_variable="TDOC_API_KEY" if op.secured else None,
    )


def sent_with_httpx(api: Api, request: SampleRequest) -> int:
    headers = dict(request.headers)
    if request.key_variable is not None:
        headers["Authorization"] = f"Bearer {api.admin}"
    answer = httpx.request(
        request.method,
        request.url,
        params=list(request.query),
        headers=headers,
        json=request.body if request.body is not None else None,
        timeout=30,
    )
    return answer.status_code


@pytest.fixture(scope="module")
def expected(tmp_path_factory: pytest.TempPathFactory) -> dict[str, int]:
    """Each operation's status, sent in order with httpx to a fresh server."""
    with tdoc_api(tmp_path_factory.mktemp("httpx")) as api:
        return {op.id: sent_with_httpx(api, request_of(api, op)) for op in operations(api)}


def test_the_reference_run_gets_answers_of_every_kind(expected: dict[str, int]) -> None:
    """The comparison means something only if the requests do things and are refused for
    reasons besides a missing key: created, read, not found, invalid."""
    kinds = Counter(status // 100 for status in expected.values())
    assert kinds[2] >= 10, expected
    assert 404 in expected.values()
    assert all(status != 401 for status in expected.values()), expected


@pytest.mark.parametrize("language", LANGUAGES, ids=lambda lang: lang.id)
def test_every_operations_sample_gets_the_status_httpx_gets(
    language: Language, expected: dict[str, int], tmp_path: Path
) -> None:
    got: dict[str, int] = {}
    with tdoc_api(tmp_path / "server") as api:
        for op in operations(api):
            (sample,) = [s for s in operation_samples(api.url, op) if s["id"] == language.id]
            # The sample the reference shows is the one the request model writes.
            assert sample["code"] == language.render(request_of(api, op))
            ran = run_sample(language, sample["code"], tmp_path, key=api.admin)
            got[op.id] = ran.status
    assert got == expected
