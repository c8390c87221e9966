"""Logging: readable text by default, JSON lines with `log_format = "json"`; secrets redacted."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable
from datetime import UTC, datetime


class SecretRedactor(logging.Filter):
    """Replaces the values of the configured secret environment variables wherever they appear."""

    def __init__(self, env_names: Iterable[str]) -> None:
        super().__init__()
        self._secrets = [v for v in (os.environ.get(n) for n in env_names) if v and len(v) >= 4]

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            message = record.getMessage()
            for secret in self._secrets:
                message = message.replace(secret, "***")
            record.msg, record.args = message, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(log_format: str, level: str, secret_env_names: Iterable[str] = ()) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(SecretRedactor(secret_env_names))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # ccxt logs every request with its headers (the API key) at DEBUG: never below INFO
    for noisy in ("aiohttp.access", "web3", "urllib3", "asyncio", "ccxt", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # apscheduler logs every job run at INFO: noise at INFO, wanted when debugging.
    logging.getLogger("apscheduler").setLevel(logging.DEBUG if level == "DEBUG" else logging.WARNING)
