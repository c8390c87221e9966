"""A real two-node Ray cluster for the sweep tests: a head without CPUs and a worker node with two
CPUs and a custom resource, each its own `ray start --block` with its own temp dir, token
authentication on, started from a folder that is not the checkout and without PYTHONPATH (the
workers get the code through the job, as on a cluster without a shared disk).

Stopping touches only what this helper started: SIGKILL to the process group of each `ray start`
(Ray's daemons stay in it), then to any process still naming this cluster's temp dir on its command line
(the Python workers the raylets spawn), by pid. `ray stop` would stop every Ray on the machine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

WORKER_RESOURCE = "mmbot_sweep_worker"
STARTED = "Ray runtime started"


@dataclass(frozen=True)
class RayCluster:
    address: str
    root: Path
    token_path: Path

    def driver_env(self, base: dict[str, str]) -> dict[str, str]:
        """A driver's environment with the cluster's token (Ray's own variables)."""
        env = {k: v for k, v in base.items() if not k.startswith("RAY_AUTH")}
        return dict(env, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(self.token_path))

    def worker_node_id(self) -> str:
        """The worker node's id, from its raylet's log ("Raylet of id, <hex> started")."""
        for log in (self.root / "worker").glob("session_*/logs/raylet.out"):
            for line in log.read_text(errors="replace").splitlines():
                if "Raylet of id, " in line:
                    return line.split("Raylet of id, ", 1)[1].split()[0]
        raise AssertionError("the worker node's raylet log names no node id")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_started(proc: subprocess.Popen[bytes], log: Path, deadline_s: float) -> None:
    end = time.monotonic() + deadline_s
    while STARTED not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > end:
            raise RuntimeError(f"ray start did not come up:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


def _stop(procs: list[subprocess.Popen[bytes]], root: Path) -> None:
    # SIGKILL at once: `ray start --block` ignored SIGTERM for the whole 10 s grace (20 s of
    # every run spent waiting), and a test cluster has nothing to save on its way down.
    for proc in procs:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    for proc in procs:
        proc.wait()
    for pid in _pids_naming(f"{root}/"):
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _pids_naming(text: str) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    out.append(int(entry.name))
            except OSError:
                continue
    return out


@contextmanager
def two_node_cluster(deadline_s: float = 180.0) -> Iterator[RayCluster]:
    root = Path(tempfile.mkdtemp(prefix="mmbot-ray-", dir="/tmp"))  # short: Ray's socket paths
    token_path = root / "token"
    token_path.write_text(secrets.token_hex(32))
    token_path.chmod(0o600)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("RAY_")}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token_path), RAY_USAGE_STATS_ENABLED="0")
    address = f"127.0.0.1:{_free_port()}"
    ray_start = [sys.executable, "-m", "ray.scripts.scripts", "start", "--block", "--disable-usage-stats"]
    port = address.rsplit(":", 1)[1]
    nodes = {
        "head": ["--head", "--port", port, "--num-cpus", "0", "--include-dashboard=false"],
        "worker": ["--address", address, "--num-cpus", "2", "--resources", f'{{"{WORKER_RESOURCE}": 2}}'],
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name, args in nodes.items():
            log = root / f"{name}.log"
            with log.open("wb") as sink:
                proc = subprocess.Popen(
                    [*ray_start, *args, "--node-ip-address", "127.0.0.1", "--temp-dir", str(root / name)],
                    cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            procs.append(proc)
            _wait_started(proc, log, deadline_s)
        yield RayCluster(address, root, token_path)
    finally:
        _stop(procs, root)
        shutil.rmtree(root, ignore_errors=True)
