"""The servers the tests use: absent, or present without what the tests need, they skip
the tests that need them, except under ``CI=true``, where CI must not go green by testing
less."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest

from .support import POSTGRES_URL, require_postgres


def elsewhere(database: str) -> str:
    parts = urlsplit(POSTGRES_URL)
    return urlunsplit(parts._replace(path=f"/{database}"))


def test_a_server_without_the_test_database_skips_outside_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_postgres(POSTGRES_URL)  # the real server is there
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="POLICYENGINE_TEST_POSTGRES"):
        require_postgres(elsewhere("policyengine_no_such_database"))


def test_a_server_without_the_test_database_fails_under_ci(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_postgres(POSTGRES_URL)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        require_postgres(elsewhere("policyengine_no_such_database"))
