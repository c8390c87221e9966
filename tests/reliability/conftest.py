"""Fixtures of the reliability tests."""

import pytest

from tests.reliability.procs import KEY, KEY_ENV, SECRET, SECRET_ENV


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The facade's test key and secret in the env vars the bot config names."""
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv(SECRET_ENV, SECRET)
