"""The request engine under every Capgo operation: headers, budget, retries, errors, observation.

Operations call :meth:`CapgoHTTP.call` with a route *template* (``/statistics/app/{app_id}``) and
its parameters. The template, never the filled-in path, is what the observer and errors see, so
ids never reach metric labels.

Where parameters go follows the real backend (reference §1.2): GET and DELETE put them in the
query string, POST and PUT send a JSON body. A GET may also carry a JSON body — the only way to
page ``/organization`` past its first page.

The key is sent raw (no ``Bearer``) in both ``capgkey`` and ``authorization``: ``capgkey`` is read
by every route, ``authorization`` by the routes that accept console logins too.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote

import httpcore
import httpx
import msgspec
import structlog

from capgo_exporter import __version__
from capgo_exporter.api.budget import Clock, RequestBudget, Sleep
from capgo_exporter.api.errors import (
    AuthenticationError,
    CapgoAPIError,
    CapgoResponseError,
    CapgoTimeoutError,
    CapgoTransportError,
    RateLimitedError,
    UnreadableBodyError,
    error_class_for,
)
from capgo_exporter.api.observer import NullObserver, RequestObserver
from capgo_exporter.api.options import ClientOptions
from capgo_exporter.api.redact import KeyRedactor
from capgo_exporter.api.retry import RetryPolicy, retry_after_seconds

# --log.level debug: one line per request sent. It names the route template, never the URL
# with its ids filled in, the query or the headers (the key is in a header).
_log = structlog.get_logger("capgo_exporter.api")

USER_AGENT: Final = f"capgo-exporter/{__version__}"

Params = Mapping[str, Any]


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# httpcore reads a response 64 KiB at a time, each read a trip through anyio and h11: a page
# of 50,000 devices (18 MB) is 280 of them, about as much CPU as decoding it. 1 MiB reads take
# a third less of the client's CPU per device (benchmarks/bench_device_walk.py). httpcore has
# no setting for it; the class attribute is checked so a renamed one is noticed in tests.
_READ_BYTES: Final = 1 << 20
if hasattr(httpcore.AsyncHTTP11Connection, "READ_NUM_BYTES"):
    httpcore.AsyncHTTP11Connection.READ_NUM_BYTES = _READ_BYTES


def _query(params: Params | None) -> dict[str, str]:
    return {k: _query_value(v) for k, v in (params or {}).items() if v is not None}


class _Retry(Exception):
    """Internal: this attempt failed in a way worth another try."""

    def __init__(self, reason: str, error: Exception, wait: float | None = None) -> None:
        self.reason = reason
        self.error = error
        self.wait = wait


class CapgoHTTP:
    """One connection to Capgo, set up by ``options``.

    ``budget`` and ``retry`` are built from the options unless given: tests pass their own,
    running on a fake clock.
    """

    def __init__(
        self,
        options: ClientOptions,
        *,
        budget: RequestBudget | None = None,
        retry: RetryPolicy | None = None,
        observer: RequestObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        auth_failure_cooldown: float = 600.0,
        sleep: Sleep = asyncio.sleep,
        clock: Clock = time.monotonic,
    ) -> None:
        self.options = options
        self.budget = budget or options.request_budget(clock=clock, sleep=sleep)
        self.retry = retry or options.retry_policy()
        self.observer: RequestObserver = observer or NullObserver()
        self._sleep = sleep
        self._clock = clock
        self._auth_failure_cooldown = auth_failure_cooldown
        # When Capgo last rejected the key itself, and how: nothing is sent during the cooldown.
        self._key_rejection: tuple[float, AuthenticationError] | None = None
        # Per route template while Capgo keeps failing there: failed attempts in a row, and
        # when (clock) the next request to it may be sent: the back-off counts from the last
        # failure, so a collector polling again an interval later is not held once more.
        # Reset by the first success.
        self._failures: dict[str, int] = {}
        self._hold: dict[str, float] = {}
        key = options.api_key.get_secret_value()
        # Whatever Capgo answers loses the key here, before any error or value is made of it.
        self._redact = KeyRedactor(key)
        self._http = httpx.AsyncClient(
            base_url=options.base_url.rstrip("/"),
            headers={
                "capgkey": key,
                "authorization": key,
                "user-agent": USER_AGENT,
                "accept": "application/json",
            },
            timeout=httpx.Timeout(options.request_timeout, connect=options.connect_timeout),
            transport=transport,
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def call(
        self,
        method: str,
        route: str,
        *,
        path: Params | None = None,
        params: Params | None = None,
        body: Params | None = None,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """Send one operation (with its retries) and return the decoded JSON body.

        ``route`` is the template; ``path`` fills its ``{placeholders}``. ``params`` go to the
        query string (GET, DELETE) or the JSON body (POST, PUT); ``body`` forces a JSON body.
        ``decode`` (a msgspec decoder) turns a successful body into typed values instead of
        generic JSON; a body it rejects counts as malformed, like one that is not JSON.
        """
        url = route.format(**{k: quote(str(v), safe="") for k, v in (path or {}).items()})
        request_kwargs: dict[str, Any] = {}
        if method in ("POST", "PUT"):
            request_kwargs["json"] = {**(params or {}), **(body or {})}
        else:
            request_kwargs["params"] = _query(params)
            if body is not None:
                request_kwargs["json"] = dict(body)
        self._refuse_if_key_rejected(method, route)
        attempt = 0
        while True:
            if (hold := self._hold.get(route, 0.0) - self._clock()) > 0:
                await self._sleep(hold)
            try:
                result = await self._attempt(method, route, url, request_kwargs, attempt, decode)
            except _Retry as retry:
                if retry.reason != "rate_limited":
                    self._route_failed(route)
                if attempt >= self.retry.max_retries:
                    raise retry.error from None
                attempt += 1
                self.observer.request_retried(route, retry.reason)
                if retry.reason == "rate_limited" and retry.wait is None:
                    # A 429 with Retry-After paused the budget when it was read; one
                    # without it pauses everyone for the backoff instead.
                    self.budget.pause(self.retry.backoff(attempt - 1))
                # Other failures wait the route's hold at the top of the loop.
                continue
            self._route_succeeded(route)
            return result

    def _route_failed(self, route: str) -> None:
        """Capgo failed again on ``route``: every request to it waits longer (with jitter)."""
        failures = self._failures.get(route, 0) + 1
        self._failures[route] = failures
        backoff = self.retry.backoff(failures - 1)
        self._hold[route] = self._clock() + backoff
        self.observer.backoff_changed(route, backoff)

    def _route_succeeded(self, route: str) -> None:
        if self._failures.pop(route, None) is not None:
            self._hold.pop(route, None)
            self.observer.backoff_changed(route, 0.0)

    def _refuse_if_key_rejected(self, method: str, route: str) -> None:
        """After Capgo rejected the key, send nothing for a while: failures lead to a lockout."""
        if self._key_rejection is None:
            return
        rejected_at, previous = self._key_rejection
        since = self._clock() - rejected_at
        if since >= self._auth_failure_cooldown:
            self._key_rejection = None
            return
        raise AuthenticationError(
            status=previous.status,
            code=previous.code,
            message=(
                f"{previous.message}; not sent: the key was rejected {since:.0f}s ago, "
                f"next try in {self._auth_failure_cooldown - since:.0f}s"
            ),
            endpoint=route,
            method=method,
            request_id=previous.request_id,
            more_info=previous.more_info,
        )

    async def _attempt(
        self,
        method: str,
        route: str,
        url: str,
        request_kwargs: dict[str, Any],
        retry: int,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        async with self.budget.slot():
            # Checked again here, the last moment before sending: the key may have been
            # rejected while this request waited for its token.
            self._refuse_if_key_rejected(method, route)
            started = time.perf_counter()

            def finished(status: str) -> None:
                seconds = time.perf_counter() - started
                self.observer.request_finished(route, status, seconds)
                _log.debug(
                    "capgo request",
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(seconds * 1000, 1),
                    retry=retry,
                )

            try:
                response = await self._http.request(method, url, **request_kwargs)
            except httpx.TimeoutException as exc:
                finished("timeout")
                error = CapgoTimeoutError(
                    f"Capgo did not answer in time ({method} {route}): {type(exc).__name__}",
                    endpoint=route,
                )
                # A request that timed out while connecting was never sent: safe to repeat.
                never_sent = isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
                if method == "GET" or never_sent:
                    raise _Retry("timeout", error) from exc
                raise error from exc
            except httpx.TransportError as exc:
                finished("connection_error")
                failure = CapgoTransportError(
                    self._redact.text(
                        f"cannot reach Capgo ({method} {route}): {exc or type(exc).__name__}"
                    ),
                    endpoint=route,
                )
                if method == "GET" or isinstance(exc, httpx.ConnectError):
                    raise _Retry("connection_error", failure) from exc
                raise failure from exc
            finished(str(response.status_code))
        return self._interpret(method, route, response, decode)

    def _interpret(
        self,
        method: str,
        route: str,
        response: httpx.Response,
        decode: Callable[[bytes], Any] | None = None,
    ) -> Any:
        request_id = self._redact.optional(response.headers.get("x-request-id"))
        status = response.status_code
        content = self._redact.body(response.content)
        try:
            if decode is not None and 200 <= status < 300:
                payload = decode(content)
            else:
                payload = json.loads(content)
            decoded = True
        except msgspec.ValidationError as exc:  # JSON, but not the shape asked for
            raise CapgoResponseError(
                self._redact.text(
                    f"Capgo answered {method} {route} with an unexpected shape: {exc}"
                ),
                endpoint=route,
                request_id=request_id,
            ) from None
        except (json.JSONDecodeError, UnicodeDecodeError, msgspec.DecodeError):
            payload, decoded = None, False
        if 200 <= status < 300:
            if decoded:
                return payload
            error = UnreadableBodyError(
                f"Capgo answered {status} with a body that is not JSON ({method} {route}"
                + (f", request id {request_id})" if request_id else ")"),
                endpoint=route,
                request_id=request_id,
            )
            if method == "GET":
                raise _Retry("malformed_response", error)
            raise error
        api_error = self._api_error(method, route, response, payload, request_id)
        if isinstance(api_error, RateLimitedError):
            wait = api_error.retry_after
            if wait is not None:
                # Everyone waits, queued requests included, even when this one gives up:
                # the limit is per key, and each request sent early pushes its reset back.
                self.budget.pause(wait)
            if api_error.lockout or (wait is not None and wait > self.retry.max_retry_after):
                raise api_error
            raise _Retry("rate_limited", api_error, wait)
        if status >= 500 and method == "GET":
            raise _Retry("server_error", api_error)
        if isinstance(api_error, AuthenticationError) and api_error.key_rejected:
            self._key_rejection = (self._clock(), api_error)
        raise api_error

    def _api_error(
        self,
        method: str,
        route: str,
        response: httpx.Response,
        payload: Any,
        request_id: str | None,
    ) -> CapgoAPIError:
        """The error Capgo's answer describes, with the key taken out of every field."""
        status = response.status_code
        if isinstance(payload, dict) and isinstance(payload.get("error"), str):
            code = self._redact.text(payload["error"])
            message = self._redact.text(str(payload.get("message") or code))
            more_info = payload.get("moreInfo")
            more_info = self._redact.value(more_info) if isinstance(more_info, dict) else {}
        else:
            code = f"http_{status}"
            message = self._redact.text(response.reason_phrase or "error")
            more_info = {}
        cls = error_class_for(status)
        kwargs: dict[str, Any] = {
            "status": status,
            "code": code,
            "message": message,
            "endpoint": route,
            "method": method,
            "request_id": request_id,
            "more_info": more_info,
        }
        if cls is RateLimitedError:
            kwargs["retry_after"] = retry_after_seconds(response.headers, more_info)
        return cls(**kwargs)
