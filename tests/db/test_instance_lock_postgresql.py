"""The single-instance guard's PostgreSQL path: a session advisory lock per instance id."""

from __future__ import annotations

import pytest

from bot.app.instance_lock import AdvisoryInstanceLock, InstanceLocked, acquire_instance_lock, advisory_key
from bot.core.exit_codes import ExitCode


def test_a_second_instance_on_the_same_database_and_id_is_refused(postgres, pg_database):
    url = postgres.url("psycopg", pg_database)
    first = acquire_instance_lock(url, "mm1")
    assert isinstance(first, AdvisoryInstanceLock)
    with pytest.raises(InstanceLocked) as refused:
        acquire_instance_lock(url, "mm1")
    assert refused.value.exit_code is ExitCode.INSTANCE_LOCKED
    assert str(refused.value) == (
        f"another mmbot process runs instance mm1 on {url} (advisory lock {advisory_key('mm1')} is held)"
    )
    other = acquire_instance_lock(url, "mm2")  # another instance id on the same database starts
    other.release()
    first.release()
    again = acquire_instance_lock(url, "mm1")  # released: the next start gets it
    again.release()
