"""The single-instance lock and the ops-port check, in-process (the real processes: tests/reliability)."""

from __future__ import annotations

import logging
import socket

import pytest

from bot.app.instance_lock import InstanceLocked, NoLock, acquire_instance_lock, advisory_key
from bot.app.ops_port import OpsPortTaken, check_ops_port
from bot.core.exit_codes import ExitCode
from bot.ops.settings import OpsConfig


def test_second_lock_on_the_same_store_and_instance_is_refused_until_released(tmp_path):
    url = f"sqlite:///{tmp_path}/bot.sqlite"
    first = acquire_instance_lock(url, "mm1")
    with pytest.raises(InstanceLocked) as refused:
        acquire_instance_lock(url, "mm1")
    message = str(refused.value)
    assert refused.value.exit_code == ExitCode.INSTANCE_LOCKED == 4
    assert "\n" not in message and "mm1" in message and str(tmp_path / "bot.sqlite") in message
    other = acquire_instance_lock(url, "mm2")  # another instance id on the same store may run
    elsewhere = acquire_instance_lock(f"sqlite:///{tmp_path}/other.sqlite", "mm1")
    first.release()
    again = acquire_instance_lock(url, "mm1")
    for lock in (again, other, elsewhere):
        lock.release()


def test_in_memory_and_unsupported_databases_take_no_lock(caplog):
    assert isinstance(acquire_instance_lock("sqlite:///:memory:", "mm1"), NoLock)
    with caplog.at_level(logging.WARNING, logger="mmbot"):
        assert isinstance(acquire_instance_lock("mysql://u:p@127.0.0.1/db", "mm1"), NoLock)
    assert "no single-instance guard for a mysql database" in caplog.text


def test_advisory_key_is_a_stable_signed_bigint_per_instance():
    keys = {advisory_key(i) for i in ("mm1", "mm2", "a" * 64)}
    assert len(keys) == 3 and all(-(2**63) <= k < 2**63 for k in keys)
    assert advisory_key("mm1") == advisory_key("mm1")


def test_taken_ops_port_is_a_start_up_error_unless_optional(caplog):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OpsPortTaken) as refused:
            check_ops_port(OpsConfig(port=port))
        assert refused.value.exit_code == ExitCode.OPS_PORT_TAKEN == 5
        assert f"127.0.0.1:{port}" in str(refused.value) and "bot.ops.optional" in str(refused.value)
        with caplog.at_level(logging.WARNING, logger="mmbot"):
            check_ops_port(OpsConfig(port=port, optional=True))
        assert "running without it" in caplog.text
        check_ops_port(OpsConfig(port=port, enabled=False))  # no endpoint, nothing to bind
    check_ops_port(OpsConfig(port=port))  # free again
    check_ops_port(OpsConfig(port=0))
