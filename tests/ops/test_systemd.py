"""sd_notify under a `Type=notify` unit, with a real unix datagram socket as NOTIFY_SOCKET.

`mmbot run` (a real process, paper venue, wall clock) says READY=1 once it serves its ops
endpoint with a started bot, pings WATCHDOG=1 every half of WATCHDOG_USEC from its event loop,
and says STOPPING=1 on SIGTERM before its clean stop (exit 0).
"""

from __future__ import annotations

import configparser
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w

from bot.core.exit_codes import ExitCode
from bot.ops.systemd import SystemdNotifier
from tests.kit import REPO_ROOT, child_env, small_config_dict

WATCHDOG_USEC = 1_000_000  # systemd's WatchdogSec=1: a ping must come at least every second


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A bound datagram socket in a short folder (unix socket paths end at 107 bytes)."""
    folder = tempfile.mkdtemp(prefix="mmbot-sd-")
    path = os.path.join(folder, "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    try:
        yield sock, path
    finally:
        sock.close()
        shutil.rmtree(folder)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def receive(sock: socket.socket, timeout_s: float) -> tuple[str, float]:
    sock.settimeout(timeout_s)
    data = sock.recv(4096)
    return data.decode(), time.monotonic()


def drain(sock: socket.socket) -> None:
    """Read what already waits in the socket (one message at least), so the next is sent after now."""
    receive(sock, 5)
    sock.settimeout(0.0)
    try:
        while True:
            sock.recv(4096)
    except BlockingIOError:
        pass


def test_ready_after_start_up_then_watchdog_pings_at_half_watchdog_usec_then_stopping(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    port = free_port()
    data = small_config_dict("sqlite:///bot.sqlite", venues=("va",))
    data["bot"].update(clock="wall", log_format="json")
    data["bot"]["ops"] = {"port": port}
    config_path = tmp_path / "bot.toml"
    config_path.write_text(tomli_w.dumps(data))
    env = child_env(NOTIFY_SOCKET=path, WATCHDOG_USEC=str(WATCHDOG_USEC))
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run", "--config", str(config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    try:
        first, _ = receive(sock, 60)
        assert first == "READY=1"
        # READY means started: at once, the ops endpoint answers with the running bot's live state
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=10) as answer:
            status = json.load(answer)
        assert (answer.status, status["instance_id"], status["pause"]["paused"]) == (200, "t1", False)
        # pings sent during the /status request waited in the socket: their receive times are late,
        # which would shorten the first gap (0.30 s of 0.5 once in CI); the gaps start after them
        drain(sock)
        pings = [receive(sock, 5) for _ in range(8)]
        assert {message for message, _ in pings} == {"WATCHDOG=1"}
        gaps = [b - a for (_, a), (_, b) in itertools.pairwise(pings)]
        print("watchdog gaps (s):", [round(g, 3) for g in gaps])
        # each ping before the watchdog's deadline; paced by half of it (not some fixed rate): the
        # mean gap is the interval, whatever the receiving side's scheduling jitter
        assert max(gaps) < WATCHDOG_USEC / 1e6, gaps
        assert sum(gaps) / len(gaps) >= 0.95 * WATCHDOG_USEC / 2 / 1e6, gaps
        proc.send_signal(signal.SIGTERM)
        message = "WATCHDOG=1"
        while message == "WATCHDOG=1":
            message, _ = receive(sock, 10)
        assert message == "STOPPING=1"
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err[-2000:]


def test_abstract_socket_and_a_watchdog_meant_for_another_process(notify_socket) -> None:  # type: ignore[no-untyped-def]
    abstract = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = f"mmbot-test-{os.getpid()}"
    abstract.bind("\0" + name)
    try:
        notifier = SystemdNotifier({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "3000000"})
        assert notifier.watchdog_interval_s == 1.5
        assert notifier.send("READY=1")
        assert receive(abstract, 5)[0] == "READY=1"
        notifier.close()
    finally:
        abstract.close()
    other = SystemdNotifier(
        {"NOTIFY_SOCKET": notify_socket[1], "WATCHDOG_USEC": "3000000", "WATCHDOG_PID": "1"}
    )
    assert other.watchdog_interval_s is None  # pid 1 pings for itself
    assert not SystemdNotifier({}).enabled and not SystemdNotifier({}).send("READY=1")


def test_the_unit_file_restarts_on_the_exit_codes_a_restart_can_fix_only() -> None:
    """deploy/mmbot.service against bot/core/exit_codes.py: never a restart loop on a bad config."""
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # type: ignore[assignment,method-assign]  # systemd keys are case-sensitive
    unit.read(REPO_ROOT / "deploy" / "mmbot.service")
    service = unit["Service"]
    prevented = {int(code) for code in service["RestartPreventExitStatus"].split()}
    assert prevented == {ExitCode.CONFIG, ExitCode.INSTANCE_LOCKED}
    assert (service["Type"], service["Restart"], service["UMask"]) == ("notify", "on-failure", "0077")
    assert int(service["WatchdogSec"]) > 0 and service["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert int(unit["Unit"]["StartLimitBurst"]) > 0 and int(unit["Unit"]["StartLimitIntervalSec"]) > 0
