"""The request engine under every Capgo operation: headers, budget, retries, errors, observation.

Operations call :meth:`CapgoHTTP.call` with a route *template* (``/statistics/app/{app_id}``) and
its parameters. The template, never the filled-in path, is what the observer and errors see, so
ids never reach metric labels.

Where parameters go follows the real backend (``getBodyOrQuery`` and ``parseBody`` in Capgo's
``supabase/functions/_backend/utils/hono.ts``): GET and DELETE put them in the query string,
POST and PUT send a JSON body. A GET may also carry a JSON body — the only way to page
``/organization`` past its first page, since its ``page`` must be a JSON number.

The key is sent raw (no ``Bearer``) in both ``capgkey`` and ``authorization``: ``capgkey`` is read
by every route, ``authorization`` by the routes that accept console logins too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote

import httpcore
import httpx
import structlog

from capgo_exporter import __version__
from capgo_exporter.api.answers import read_answer, read_body
from capgo_exporter.api.budget import Clock, RequestBudget, Sleep
from capgo_exporter.api.circuit import Circuit, CircuitOpenError
from capgo_exporter.api.errors import (
    AuthenticationError,
    CapgoError,
    CapgoTimeoutError,
    CapgoTransportError,
    CapgoUnavailableError,
    RateLimitedError,
    ResponseTooLargeError,
    ServerError,
    UnreadableBodyError,
)
from capgo_exporter.api.observer import NullObserver, RequestObserver
from capgo_exporter.api.options import ClientOptions
from capgo_exporter.api.redact import KeyRedactor
from capgo_exporter.api.retry import RetryPolicy

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


def _request(
    method: str, route: str, path: Params | None, params: Params | None, body: Params | None
) -> tuple[str, dict[str, Any]]:
    """The URL and httpx arguments of one operation (see the module's docstring)."""
    url = route.format(**{k: quote(str(v), safe="") for k, v in (path or {}).items()})
    request_kwargs: dict[str, Any] = {}
    if method in ("POST", "PUT"):
        request_kwargs["json"] = {**(params or {}), **(body or {})}
    else:
        request_kwargs["params"] = _query(params)
        if body is not None:
            request_kwargs["json"] = dict(body)
    return url, request_kwargs


def _outage(error: Exception) -> bool:
    """A failure that says Capgo may be down, not that it answered something we dislike."""
    return isinstance(
        error, CapgoTransportError | ServerError | UnreadableBodyError | ResponseTooLargeError
    )


class _Retry(Exception):
    """Internal: this attempt failed in a way worth another try."""

    def __init__(self, reason: str, error: CapgoError, wait: float | None = None) -> None:
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
        # While Capgo fails as a whole: nothing sent but a probe now and then.
        self.circuit = Circuit(
            options.probe_interval,
            failures_to_open=options.circuit_failures_to_open,
            clock=clock,
            on_change=self._circuit_moved,
        )
        self._answering_again: list[Callable[[], None]] = []
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
        url, request_kwargs = _request(method, route, path, params, body)
        self._refuse_if_key_rejected(method, route)
        attempt = 0
        while True:
            self._refuse_if_circuit_open(route, admit=False)
            # While the circuit is open its probe wait paces everything: a probe due now goes
            # now, not after its route's own back-off (which its answer clears anyway).
            hold = self._hold.get(route, 0.0) - self._clock()
            if hold > 0 and not self.circuit.is_open:
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

    def when_answering_again(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` each time Capgo answers after the circuit opened."""
        self._answering_again.append(listener)

    def _circuit_moved(self, is_open: bool) -> None:
        self.observer.circuit_changed(is_open)
        if not is_open:  # Capgo answers again: no route waits for its own back-off
            for route in list(self._failures):
                self._route_succeeded(route)
            for listener in self._answering_again:
                listener()

    def _refuse_if_circuit_open(self, route: str, *, admit: bool) -> bool:
        """While the circuit is open, nothing leaves but the probe. ``admit``: this request
        leaves now if it may; returns whether it is the probe."""
        try:
            if admit:
                return self.circuit.admit()
            self.circuit.refuse_unless_due()
            return False
        except CircuitOpenError:
            raise CapgoUnavailableError(
                f"not sent: Capgo failed {self.circuit.failures_to_open} requests in a row (last: "
                f"{self.circuit.reason}); one request probes it now and then, and the others "
                "resume once it is answered",
                endpoint=route,
            ) from None

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
        """One request: sent, read and understood; the circuit told how it went."""
        async with self.budget.slot():
            # Checked again here, the last moment before sending: the key may have been
            # rejected, or the circuit opened, while this request waited for its token.
            self._refuse_if_key_rejected(method, route)
            probe = self._refuse_if_circuit_open(route, admit=True)
            told = False
            try:
                response, content = await self._exchange(method, route, url, request_kwargs, retry)
                result = self._interpret(method, route, response, content, decode)
            except (_Retry, CapgoError) as failure:
                error = failure.error if isinstance(failure, _Retry) else failure
                if _outage(error):
                    self.circuit.failed(str(error), probe=probe)
                else:
                    self.circuit.answered()
                told = True
                raise
            finally:
                if probe and not told:  # a probe cancelled on its way: the next one may go
                    self.circuit.abandon()
            self.circuit.answered()
            return result

    async def _exchange(
        self, method: str, route: str, url: str, request_kwargs: dict[str, Any], retry: int
    ) -> tuple[httpx.Response, bytes]:
        """Send the request and read the answer's body within the size limit."""
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

        limit = self.options.max_response_bytes
        status = "connection_error"
        try:
            async with self._http.stream(method, url, **request_kwargs) as response:
                status = str(response.status_code)
                content = await read_body(response, route, method, limit)
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
        except ResponseTooLargeError as error:
            finished(status)
            _log.warning(
                "Capgo's answer is larger than the limit; abandoned",
                method=method,
                route=route,
                size_bytes=error.size,
                limit_bytes=error.limit,
            )
            raise
        finished(status)
        return response, content

    def _interpret(
        self,
        method: str,
        route: str,
        response: httpx.Response,
        content: bytes,
        decode: Callable[[bytes], Any] | None,
    ) -> Any:
        """The answer's value, or what to do about the error it describes."""
        try:
            return read_answer(method, route, response, content, self._redact, decode)
        except UnreadableBodyError as error:
            if method == "GET":
                raise _Retry("malformed_response", error) from None
            raise
        except RateLimitedError as error:
            wait = error.retry_after
            if wait is not None:
                # Everyone waits, queued requests included, even when this one gives up:
                # the limit is per key, and each request sent early pushes its reset back.
                self.budget.pause(wait)
            if error.lockout or (wait is not None and wait > self.retry.max_retry_after):
                raise
            raise _Retry("rate_limited", error, wait) from None
        except ServerError as error:
            if method == "GET":
                raise _Retry("server_error", error) from None
            raise
        except AuthenticationError as error:
            if error.key_rejected:
                self._key_rejection = (self._clock(), error)
            raise
