"""sd_notify for `Type=notify` units: READY, STOPPING and watchdog pings over $NOTIFY_SOCKET.

The protocol is one datagram per message (`READY=1`, `WATCHDOG=1`, `STOPPING=1`) on the unix
socket systemd names in NOTIFY_SOCKET ("@name": an abstract socket); outside systemd the variable
is unset and nothing is sent. Pings come from a task on the bot's event loop, every half of
WATCHDOG_USEC (as sd_watchdog_enabled(3) advises): a loop that is blocked or dead sends none, and
systemd kills and restarts the bot after WatchdogSec. WATCHDOG_PID, when set, must be this process
(a child must not ping for its parent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger("mmbot.systemd")


def _address(raw: str) -> str:
    return "\0" + raw[1:] if raw.startswith("@") else raw


class SystemdNotifier:
    """The service manager's notify socket, or nothing when not run by systemd."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        raw = env.get("NOTIFY_SOCKET", "")
        self.address = _address(raw) if raw else None
        self.watchdog_interval_s = _watchdog_interval_s(env)
        self._socket: socket.socket | None = None
        self._failing: set[str] = set()  # kinds whose failure was logged (not again until one is sent)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    def send(self, state: str) -> bool:
        """One notification; False (logged once per kind at WARNING) when it cannot be sent."""
        if self.address is None:
            return False
        kind = state.split("=")[0]
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
                self._socket.setblocking(False)
            self._socket.sendto(state.encode(), self.address)
        except OSError as exc:
            if kind not in self._failing:
                self._failing.add(kind)
                log.warning("sd_notify %s not sent: %s", kind, exc.strerror or exc)
            return False
        self._failing.discard(kind)
        return True

    async def watchdog(self) -> None:
        """Ping every `watchdog_interval_s` for as long as the loop runs this task."""
        if self.watchdog_interval_s is None or self.address is None:
            return
        while True:
            self.send("WATCHDOG=1")
            await asyncio.sleep(self.watchdog_interval_s)

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None


def _watchdog_interval_s(env: Mapping[str, str]) -> float | None:
    """Half of WATCHDOG_USEC, in seconds; None when the watchdog is off or meant for another process."""
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
        pid = int(env.get("WATCHDOG_PID", str(os.getpid())))
    except ValueError:
        return None
    if usec <= 0 or pid != os.getpid():
        return None
    return usec / 2 / 1_000_000
