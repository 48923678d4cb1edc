"""In-process httpx transports: the simulator without sockets.

httpx enforces timeouts only in its network layer, so these transports honour the request's
read timeout themselves: a response slower than it becomes httpx.ReadTimeout, as over TCP.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from capgo_exporter.sim.protocol import RequestHandler, SimRequest, SimResponse


def _to_sim(request: httpx.Request, body: bytes) -> SimRequest:
    return SimRequest(
        method=request.method,
        path=request.url.path,
        query=request.url.query.decode("ascii"),
        headers={k.lower(): v for k, v in request.headers.items()},
        body=body,
    )


def _read_timeout(request: httpx.Request) -> float | None:
    timeouts = request.extensions.get("timeout") or {}
    value = timeouts.get("read")
    return float(value) if value is not None else None


def _to_httpx(request: httpx.Request, response: SimResponse) -> httpx.Response:
    return httpx.Response(
        response.status, headers=response.headers, content=response.body, request=request
    )


class AsyncSimTransport(httpx.AsyncBaseTransport):
    def __init__(self, handler: RequestHandler) -> None:
        self._handler = handler

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = self._handler(_to_sim(request, await request.aread()))
        timeout = _read_timeout(request)
        if timeout is not None and response.delay > timeout:
            await asyncio.sleep(timeout)
            raise httpx.ReadTimeout("simulated Capgo did not answer in time", request=request)
        if response.delay:
            await asyncio.sleep(response.delay)
        return _to_httpx(request, response)


class SyncSimTransport(httpx.BaseTransport):
    def __init__(self, handler: RequestHandler) -> None:
        self._handler = handler

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._handler(_to_sim(request, request.read()))
        timeout = _read_timeout(request)
        if timeout is not None and response.delay > timeout:
            time.sleep(timeout)
            raise httpx.ReadTimeout("simulated Capgo did not answer in time", request=request)
        if response.delay:
            time.sleep(response.delay)
        return _to_httpx(request, response)
