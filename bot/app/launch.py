"""`mmbot run` from its config file to its exit code.

A start that cannot go on ends with one log line per cause (the line `check-config` prints for the
same problem), in the configured log format (JSON lines in JSON mode, even for a file that does not
validate), a notification when a sink is configured (the file's [bot.notify] when that table
validates, else the default variable names), and the exit code of its class
(bot.core.exit_codes). Nothing reaches the log as a traceback above DEBUG: an unexpected exception
is one ERROR line naming it, its traceback at DEBUG.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.app.config import load_config, secret_env_names
from bot.app.lifecycle import run_bot
from bot.app.preflight import environment_problems
from bot.core.config_base import ConfigError
from bot.core.exit_codes import ExitCode, StartupError
from bot.ops.logs import setup_logging
from bot.ops.notify import Notifier, sinks_from_env
from bot.ops.settings import NotifyConfig

log = logging.getLogger("mmbot")


@dataclass(frozen=True, slots=True)
class FatalReporting:
    """How to report a start that fails: what the file says, read even when it does not validate."""

    log_format: str
    instance_id: str
    notify: NotifyConfig

    @classmethod
    def from_file(cls, path: Path) -> FatalReporting:
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8")).get("bot", {})
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            raw = {}
        bot: dict[str, Any] = raw if isinstance(raw, dict) else {}
        try:
            notify = NotifyConfig.model_validate(bot.get("notify", {}))
        except ValidationError:
            notify = NotifyConfig()
        instance_id = bot.get("instance_id")
        return cls(
            "json" if bot.get("log_format") == "json" else "text",
            instance_id if isinstance(instance_id, str) else "mmbot",
            notify,
        )


def run_command(path: Path, config_dir: Path, duration_s: float | None, watch: Path | None) -> int:
    """Load, check, run and stop; returns the process's exit code."""
    try:
        return _run(path, config_dir, duration_s, watch)
    finally:
        # The interpreter's teardown collects ccxt's thousands of classes: 2.5 s of a 10 s stop
        # budget on a busy host. Frozen objects are left to the OS; atexit handlers (log flushing)
        # still run, and the store and venues are closed by now.
        gc.freeze()


def _run(path: Path, config_dir: Path, duration_s: float | None, watch: Path | None) -> int:
    try:
        config = load_config(path)
    except ConfigError as exc:
        reporting = FatalReporting.from_file(path)
        setup_logging(reporting.log_format, "INFO")
        return _fatal(reporting, StartupError(ExitCode.CONFIG, str(exc).splitlines()))
    setup_logging(config.bot.log_format, config.bot.log_level, secret_env_names(config))
    reporting = FatalReporting(config.bot.log_format, config.bot.instance_id, config.bot.notify)
    try:
        problems = environment_problems(config, config_dir)
        if problems:
            raise StartupError(ExitCode.CONFIG, [f"{path}: {p}" for p in problems])
        # a taken ops port is Bot.start's check (bot.app.ops_port): exit OPS_PORT_TAKEN from there
        run_bot(config, config_dir, duration_s, watch)
    except StartupError as exc:
        return _fatal(reporting, exc)
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        line = f"stopped by an unexpected error: {type(exc).__name__}: {exc}"
        return _fatal(reporting, StartupError(ExitCode.UNEXPECTED, [line]))
    return ExitCode.OK


def _fatal(reporting: FatalReporting, error: StartupError) -> int:
    for line in error.lines:
        log.error("%s", line)
    text = f"mmbot exited with code {int(error.exit_code)}: {'; '.join(error.lines)}"
    _notify(reporting, text, error.exit_code)
    return error.exit_code


def _notify(reporting: FatalReporting, text: str, exit_code: ExitCode) -> None:
    """Tell the operator through the sinks whose variables are set (none: nothing); waits
    send_timeout_s at most."""
    sinks = sinks_from_env(reporting.notify)
    if not sinks:
        return

    async def send() -> None:
        notifier = Notifier(reporting.notify, reporting.instance_id, sinks)
        notifier.start()
        notifier.notify("fatal", text, time.time_ns(), exit_code=int(exit_code))
        await notifier.stop()

    asyncio.run(send())
