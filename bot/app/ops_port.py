"""Is the ops endpoint's port free? Checked at start, before the bot touches a venue.

An operator who configured an ops endpoint relies on it (health checks, `POST /pause`): a bot
that quotes without it cannot be paused or watched, so a taken port stops the start unless the
config says the endpoint is optional (`bot.ops.optional = true`).
"""

from __future__ import annotations

import logging
import os
import socket

from bot.core.exit_codes import ExitCode, StartupError
from bot.ops.settings import OpsConfig

log = logging.getLogger("mmbot")


class OpsPortTaken(StartupError):
    def __init__(self, message: str) -> None:
        super().__init__(ExitCode.OPS_PORT_TAKEN, [message])


def ops_endpoint_runs(ops: OpsConfig, clock: str) -> bool:
    """Whether the bot serves its ops endpoint (/metrics among it): configured, and on the wall
    clock only (a simulated run, e.g. a backtest, has no operator)."""
    return ops.enabled and clock == "wall"


def ops_port_problem(ops: OpsConfig) -> str | None:
    """Why the ops endpoint could not bind its address now, or None when it can (or is off)."""
    if not ops.enabled or ops.port == 0:
        return None
    try:
        # create_server sets SO_REUSEADDR like aiohttp's site: a port in TIME_WAIT counts as free,
        # one another process listens on does not.
        with socket.create_server((ops.host, ops.port)):
            return None
    except OSError as exc:
        # create_server appends the address to strerror; the plain reason reads better in one line
        reason = os.strerror(exc.errno) if exc.errno else str(exc)
        return f"cannot bind {ops.host}:{ops.port} ({reason})"


def check_ops_port(ops: OpsConfig) -> None:
    """Raise `OpsPortTaken` when the endpoint cannot bind and is required; warn when optional."""
    problem = ops_port_problem(ops)
    if problem is None:
        return
    if ops.optional:
        log.warning("ops endpoint: %s; running without it (bot.ops.optional = true)", problem)
        return
    raise OpsPortTaken(f"ops endpoint: {problem} (set bot.ops.optional = true to run without it)")
