"""Exit codes of `mmbot`, in one place: each start-up failure class gets its own.

A supervisor (systemd, a shell script) tells from the code alone whether a restart can help:
a config error or a second instance will fail the same way again (systemd's
`RestartPreventExitStatus=` can list them), an unreachable venue may not.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # anything not classified below (a bug, an unexpected error)
    CONFIG = 2  # the config file is invalid (`check-config` answers the same)
    VENUE_UNREACHABLE = 3  # a venue could not be reached at start
    INSTANCE_LOCKED = 4  # another process runs this store and instance id
    OPS_PORT_TAKEN = 5  # the ops endpoint cannot bind and `bot.ops.optional` is false
    STORE_UNAVAILABLE = 6  # the database cannot be opened or written


class StartupError(Exception):
    """A start-up failure the operator can act on: one line naming the cause, and its exit code.

    Raised before the bot quotes anything; the command line prints the message (no traceback)
    and exits with `exit_code`.
    """

    exit_code: ExitCode = ExitCode.FAILURE

    def __init__(self, message: str, exit_code: ExitCode | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code
