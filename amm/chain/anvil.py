"""One anvil process (the dev chain from npm) on 127.0.0.1 and its funded dev accounts.

anvil is always stopped on exit (context managers; and the kernel kills it if this process dies,
via PR_SET_PDEATHSIG, so even a SIGKILLed test run leaves no orphan).
"""

from __future__ import annotations

import asyncio
import ctypes
import json
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import IO

from eth_account import Account

from amm.chain.artifacts import ANVIL_BIN, require_node_modules

# anvil's default dev mnemonic: its keys are public knowledge and fund nothing outside a dev chain.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL_CHAIN_ID = 31337
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True, slots=True)
class TestAccount:
    address: str
    private_key: str  # a public anvil dev key (see ANVIL_MNEMONIC); hidden from repr all the same

    __test__ = False  # not a pytest test class

    def __repr__(self) -> str:
        return f"TestAccount({self.address})"


def anvil_accounts(count: int) -> tuple[TestAccount, ...]:
    Account.enable_unaudited_hdwallet_features()
    accounts = []
    for i in range(count):
        acct = Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}")
        accounts.append(TestAccount(acct.address, acct.key.to_0x_hex()))
    return tuple(accounts)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class AnvilError(RuntimeError):
    pass


class Anvil:
    """One anvil process on 127.0.0.1 and a free port. Sync and async context manager.

    Start it from a thread that outlives it (the main thread, or the event loop's): the kernel's
    parent-death signal is tied to the starting thread.
    """

    def __init__(
        self, *, chain_id: int = ANVIL_CHAIN_ID, accounts: int = 10, startup_timeout_s: float = 10.0
    ) -> None:
        self.chain_id = chain_id
        self.account_count = accounts
        self.startup_timeout_s = startup_timeout_s
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def rpc_url(self) -> str:
        if self.port is None:
            raise AnvilError("anvil is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def accounts(self) -> tuple[TestAccount, ...]:
        return anvil_accounts(self.account_count)

    # -- lifecycle ------------------------------------------------------------------------------

    def _spawn(self) -> None:
        require_node_modules()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self.port = _free_port()
        cmd = [
            str(ANVIL_BIN),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.account_count),
            "--mnemonic", ANVIL_MNEMONIC,
            "--silent",
        ]  # fmt: skip
        self._proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,
        )

    def _probe(self) -> bool:
        """True once anvil answers eth_chainId with our chain id; raises if it died."""
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise AnvilError(f"anvil exited with code {self._proc.returncode}: {self._output()}")
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}).encode()
        request = urllib.request.Request(self.rpc_url, body, {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=0.5) as resp:
                answer = json.loads(resp.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False
        if int(answer["result"], 16) != self.chain_id:
            raise AnvilError(f"port {self.port} answers chain id {answer['result']}: not our anvil")
        return True

    def _output(self) -> str:
        if self._log is None:
            return ""
        self._log.seek(0)
        return self._log.read().decode(errors="replace").strip()[-2000:]

    def start(self) -> Anvil:
        self._spawn()
        deadline = time.monotonic() + self.startup_timeout_s
        try:
            while not self._probe():
                if time.monotonic() > deadline:
                    raise AnvilError(
                        f"anvil did not answer on {self.rpc_url} within {self.startup_timeout_s}s"
                    )
                time.sleep(0.02)
        except BaseException:
            self.stop()
            raise
        return self

    async def start_async(self) -> Anvil:
        self._spawn()
        deadline = time.monotonic() + self.startup_timeout_s
        try:
            while not await asyncio.to_thread(self._probe):
                if time.monotonic() > deadline:
                    raise AnvilError(
                        f"anvil did not answer on {self.rpc_url} within {self.startup_timeout_s}s"
                    )
                await asyncio.sleep(0.02)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        self.port = None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Anvil:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> Anvil:
        return await self.start_async()

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
