"""Exit codes of `mmbot run` and `mmbot check-config`, and the error that carries one.

Distinct codes let a supervisor tell a problem a restart fixes from one it cannot: the systemd
unit (deploy/mmbot.service) restarts on UNEXPECTED and VENUE_UNREACHABLE and never on CONFIG or
INSTANCE_LOCKED, which would only loop.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1  # an exception nothing expected: a bug, logged with its traceback at DEBUG
    CONFIG = 2  # the file or what it needs (credentials, database, ops port) is wrong
    VENUE_UNREACHABLE = 3  # a venue could not be reached at start (network, 5xx): may pass
    INSTANCE_LOCKED = 4  # another process runs this store and instance id


class StartupError(Exception):
    """A start that cannot go on: one line per cause (`field.path: what is wrong`) and its code."""

    def __init__(self, exit_code: ExitCode, lines: list[str]) -> None:
        self.exit_code = exit_code
        self.lines = [" ".join(line.split()) for line in lines]  # one line each, whatever the cause
        super().__init__("\n".join(self.lines))
