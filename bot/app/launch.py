"""`mmbot run` from its config file to its exit code.

A start that cannot go on ends with one log line per cause (the line `check-config` prints for the
same problem), in the configured log format (JSON lines in JSON mode, even for a file that does not
validate), a notification when a sink is configured, and the exit code of its class
(bot.app.exit_codes). Nothing reaches the log as a traceback above DEBUG: an unexpected exception
is one ERROR line naming it, its traceback at DEBUG.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
import tomllib
from pathlib import Path

from bot.app.config import AppConfig, load_config, secret_env_names
from bot.app.exit_codes import ExitCode, StartupError
from bot.app.lifecycle import run_bot
from bot.app.preflight import preflight_problems
from bot.core.config_base import ConfigError
from bot.ops.logs import setup_logging
from bot.ops.notify import Notifier, sinks_from_env

log = logging.getLogger("mmbot")


def configured_log_format(path: Path) -> str:
    """`bot.log_format` as the file writes it, whether or not the rest of the file validates."""
    try:
        value = tomllib.loads(path.read_text(encoding="utf-8")).get("bot", {}).get("log_format")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, AttributeError):
        return "text"
    return "json" if value == "json" else "text"


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
        setup_logging(configured_log_format(path), "INFO")
        return _fatal(None, StartupError(ExitCode.CONFIG, str(exc).splitlines()))
    setup_logging(config.bot.log_format, config.bot.log_level, secret_env_names(config))
    try:
        problems = preflight_problems(config, config_dir)
        if problems:
            raise StartupError(ExitCode.CONFIG, [f"{path}: {p}" for p in problems])
        run_bot(config, config_dir, duration_s, watch)
    except StartupError as exc:
        return _fatal(config, exc)
    except Exception as exc:
        log.debug("unexpected error", exc_info=True)
        line = f"stopped by an unexpected error: {type(exc).__name__}: {exc}"
        return _fatal(config, StartupError(ExitCode.UNEXPECTED, [line]))
    return ExitCode.OK


def _fatal(config: AppConfig | None, error: StartupError) -> int:
    for line in error.lines:
        log.error("%s", line)
    if config is not None:
        _notify(config, f"mmbot exited with code {int(error.exit_code)}: {'; '.join(error.lines)}")
    return error.exit_code


def _notify(config: AppConfig, text: str) -> None:
    """Tell the operator through the configured sinks (none set: nothing); waits send_timeout_s at most."""
    notify = config.bot.notify
    sinks = sinks_from_env(notify)
    if not sinks:
        return

    async def send() -> None:
        notifier = Notifier(notify, config.bot.instance_id, sinks)
        notifier.start()
        notifier.notify("fatal", text, time.time_ns())
        await notifier.stop()

    asyncio.run(send())
