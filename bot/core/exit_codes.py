"""Exit codes of `mmbot run` and `mmbot check-config`, and the error that carries one.

A supervisor (systemd, a shell script) tells from the code alone whether a restart can help: a
config error or a second instance fails the same way again (deploy/mmbot.service lists them in
`RestartPreventExitStatus=`), an unreachable venue, a port still held by the previous process or a
database that is down may not.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    UNEXPECTED = 1  # an exception nothing expected: a bug, logged with its traceback at DEBUG
    CONFIG = 2  # the file or what it needs (credentials, database path) is wrong
    VENUE_UNREACHABLE = 3  # a venue could not be reached at start (network, 5xx): may pass
    INSTANCE_LOCKED = 4  # another process runs this store and instance id
    OPS_PORT_TAKEN = 5  # the ops endpoint cannot bind and `bot.ops.optional` is false
    STORE_UNAVAILABLE = 6  # the database (or the instance lock beside it) cannot be opened


class StartupError(Exception):
    """A start that cannot go on: one line per cause (`field.path: what is wrong`) and its code.

    Raised before the bot quotes anything; `mmbot` logs the lines (JSON in JSON mode, no
    traceback), notifies and exits with `exit_code`.
    """

    def __init__(self, exit_code: ExitCode, lines: list[str]) -> None:
        self.exit_code = exit_code
        self.lines = [" ".join(line.split()) for line in lines]  # one line each, whatever the cause
        super().__init__("\n".join(self.lines))
