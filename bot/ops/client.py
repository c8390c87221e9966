"""The command line's side of the ops endpoint: ask the running bot of a config to act.

`mmbot cancel-all` must not reconcile a store a running bot is writing, nor start venues of its
own next to it (on paper venues those would be fresh, empty mock venues, and reconciliation would
close the running bot's orders in the store). So it first asks the config's ops endpoint: an
answer from the same instance id means that bot is running and does the work itself.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from bot.ops.settings import OpsConfig

ANSWER_MARGIN_S = 10.0  # beyond the bot's own cancel timeout (its stop_timeout_s)


class OpsRefused(Exception):
    """A bot answers for this config but the action cannot be sent or was refused: one line."""


@dataclass(frozen=True, slots=True)
class CancelAllDone:
    url: str
    open_orders_left: int


def ops_base_url(ops: OpsConfig) -> str | None:
    """Where the bot of this config listens; None when it cannot be reached (disabled, port 0)."""
    if not ops.enabled or ops.port == 0:
        return None
    host = "127.0.0.1" if ops.host in ("0.0.0.0", "", "::") else ops.host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{ops.port}"


def _request(url: str, method: str, headers: dict[str, str], timeout_s: float) -> tuple[int, Any]:
    request = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        body = exc.read()
        try:
            return exc.code, json.loads(body or b"null")
        except ValueError:
            return exc.code, None


def running_instance(ops: OpsConfig) -> tuple[str, str] | None:
    """(url, instance id) of the bot answering on this config's ops endpoint; None if nothing does."""
    url = ops_base_url(ops)
    if url is None:
        return None
    try:
        status, body = _request(f"{url}/status", "GET", {}, 5.0)
    except (OSError, ValueError):  # refused, unreachable, timed out, not JSON: no bot of ours there
        return None
    if status != 200 or not isinstance(body, dict):
        return None
    return url, str(body.get("instance_id"))


def cancel_all_through_ops(ops: OpsConfig, instance_id: str, cancel_timeout_s: float) -> CancelAllDone | None:
    """POST /cancel-all to the running bot of this config; None when no bot answers there.

    `cancel_timeout_s`: how long the bot itself may take (its stop_timeout_s)."""
    found = running_instance(ops)
    if found is None:
        return None
    url, running_id = found
    if running_id != instance_id:
        raise OpsRefused(
            f"cancel-all: {url} answers for instance {running_id!r}, not {instance_id!r}; nothing done"
        )
    token = os.environ.get(ops.token_env) if ops.token_env else None
    if not token:
        raise OpsRefused(
            f"cancel-all: bot {instance_id} is running ({url}) but ${ops.token_env or '[bot.ops] token_env'} "
            "is not set, so it cannot be asked; nothing done"
        )
    headers = {"Authorization": f"Bearer {token}"}
    try:
        status, body = _request(f"{url}/cancel-all", "POST", headers, cancel_timeout_s + ANSWER_MARGIN_S)
    except (OSError, ValueError) as exc:
        raise OpsRefused(f"cancel-all: bot {instance_id} at {url} did not answer: {exc}") from None
    if status == 401:
        raise OpsRefused(f"cancel-all: bot {instance_id} at {url} refused the token in ${ops.token_env}")
    if status != 200 or not isinstance(body, dict) or "open_orders_left" not in body:
        raise OpsRefused(f"cancel-all: bot {instance_id} at {url} answered HTTP {status}")
    return CancelAllDone(url, int(body["open_orders_left"]))
