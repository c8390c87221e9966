"""One contract, every venue adapter: each test here runs once per venue of `venues.CONTESTANTS`.

A capability a venue legitimately lacks is a declared skip (`Contestant.lacks` and `.require`).
A real bug the contract finds is listed in KNOWN_BUGS: a strict xfail, so main stays green and
the mark fails as soon as the bug is fixed (then delete the row).
"""

from __future__ import annotations

import pytest

from tests.ccxt.conftest import API_KEY, API_SECRET, KEY_ENV, SECRET_ENV
from tests.contract.venues import CONTESTANTS, Contestant

KNOWN_BUGS: dict[tuple[str, str], str] = {}
"""(test name, venue kind) -> "bug: what is wrong", reported to the lead."""


@pytest.fixture(params=CONTESTANTS, ids=[c.kind for c in CONTESTANTS])
def contestant(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Contestant:
    monkeypatch.setenv(KEY_ENV, API_KEY)  # the ccxt venue reads the facade's credentials from env
    monkeypatch.setenv(SECRET_ENV, API_SECRET)
    return request.param  # type: ignore[no-any-return]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or "contestant" not in callspec.params:
            continue
        reason = KNOWN_BUGS.get((item.originalname, callspec.params["contestant"].kind))  # type: ignore[attr-defined]
        if reason is not None:
            item.add_marker(pytest.mark.xfail(strict=True, reason=reason))
