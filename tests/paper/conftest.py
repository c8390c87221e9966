"""The in-process facade of tests/ccxt (its flow switched off), for the paper venue's tests."""

from tests.ccxt.conftest import facade  # noqa: F401  (a fixture, used by name)
