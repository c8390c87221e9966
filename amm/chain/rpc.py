"""The JSON-RPC connection: web3's AsyncHTTPProvider with its own aiohttp session.

web3 8's HTTP session manager takes a process-wide `threading.Lock` through a thread pool on every
request. A request cancelled while waiting for it (a timeout, a shutdown) leaves the lock acquired
by an orphaned worker thread: every later HTTP request in the process waits forever and the
interpreter cannot exit (web3.py issue #3867, reproduced here with one failing `asyncio.gather`).
A bot that must survive cancellations 24/7 cannot use that path, so requests go straight through
one session per provider and event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import ClientSession, ClientTimeout
from web3 import AsyncWeb3
from web3.providers.rpc import AsyncHTTPProvider
from web3.types import RPCEndpoint, RPCResponse


class SessionHTTPProvider(AsyncHTTPProvider):
    def __init__(self, endpoint_uri: str, *, timeout_s: float = 30.0) -> None:
        super().__init__(endpoint_uri)
        self._timeout = ClientTimeout(total=timeout_s)
        self._session: ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None

    def _client(self) -> ClientSession:
        # no await between the check and the assignment: one session per loop without a lock
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            self._session = ClientSession(raise_for_status=True, timeout=self._timeout)
            self._session_loop = loop
        return self._session

    async def _post(self, body: bytes) -> bytes:
        headers = self.get_request_headers()
        async with self._client().post(str(self.endpoint_uri), data=body, headers=headers) as response:
            return await response.read()

    async def make_request(self, method: RPCEndpoint, params: Any) -> RPCResponse:
        return self.decode_rpc_response(await self._post(self.encode_rpc_request(method, params)))

    async def make_batch_request(self, batch_requests: list[tuple[RPCEndpoint, Any]]) -> Any:
        raw = await self._post(self.encode_batch_rpc_request(batch_requests))
        response = self.decode_rpc_response(raw)
        if not isinstance(response, list):  # an error for the whole batch
            return response
        return sorted(response, key=lambda r: int(r.get("id", 0)))

    async def disconnect(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()


def connect_rpc(rpc_url: str, *, timeout_s: float = 30.0) -> AsyncWeb3:
    return AsyncWeb3(SessionHTTPProvider(rpc_url, timeout_s=timeout_s))
