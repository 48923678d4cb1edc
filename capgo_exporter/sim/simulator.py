"""The Simulator: one request in, one response out, through auth, limits and faults."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import httpx

from capgo_exporter.sim.admin import with_control_routes
from capgo_exporter.sim.arrivals import Arrival, ArrivalLog, retry_after_of
from capgo_exporter.sim.auth import FailedAuthGuard, Middleware, authenticate
from capgo_exporter.sim.config import KnobBox, Knobs, SimConfig
from capgo_exporter.sim.counters import RequestCounters
from capgo_exporter.sim.faults import Faults, restore_key, revoke_key
from capgo_exporter.sim.generate import build_world
from capgo_exporter.sim.hashing import mix
from capgo_exporter.sim.limits import RateLimiter
from capgo_exporter.sim.model import ApiKey
from capgo_exporter.sim.protocol import (
    ApiError,
    SimRequest,
    SimResponse,
    error_response,
    json_response,
    not_found,
    unknown_error,
)
from capgo_exporter.sim.rbac import Principal
from capgo_exporter.sim.router import Match, Router
from capgo_exporter.sim.routes.base import Ctx
from capgo_exporter.sim.routes.table import ROUTES
from capgo_exporter.sim.server import running_server
from capgo_exporter.sim.state import RESERVED_BUNDLES, World
from capgo_exporter.sim.timeutil import EPOCH, Clock, real_clock, to_ms
from capgo_exporter.sim.transport import AsyncSimTransport, SyncSimTransport
from capgo_exporter.sim.truth import GroundTruth, compute_truth

log = logging.getLogger(__name__)
# Routes without auth never look at the principal; this one can do nothing.
_ANONYMOUS = Principal(
    ApiKey(
        id=0,
        name="anonymous",
        user_id="",
        rbac_id="",
        created_at=EPOCH,
        updated_at=EPOCH,
        expires_at=None,
        key=None,
        key_hash=None,
        bindings=[],
        global_permissions=[],
    )
)


class Simulator:
    """A simulated Capgo API. Thread-safe; use in-process (httpx transports) or over TCP."""

    def __init__(self, config: SimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or SimConfig()
        self._clock = clock or real_clock
        self._world = build_world(self.config, self._clock)
        self._knobs = KnobBox(self.config.knobs)
        self._router = Router(ROUTES)
        self._guard = FailedAuthGuard(self._clock)
        self._limiter = RateLimiter(self._clock)
        self._faults = Faults(mix(self.config.seed, "faults"))
        self._counters = RequestCounters()
        self.arrivals = ArrivalLog()  # every API request, when, and the pauses announced
        # The control routes (/_sim/) over the API: not counted, limited nor faulted.
        self._handler = with_control_routes(self, self._handle_api)

    # -- serving --------------------------------------------------------------------------

    def handle(self, request: SimRequest) -> SimResponse:
        """Answer one request; `response.delay` is the wait the transport adds before replying."""
        return self._handler(request)

    def _handle_api(self, request: SimRequest) -> SimResponse:
        knobs = self._knobs.get()
        arrived = self.arrivals.now()
        match = self._router.match(request.method, request.path)
        response = self._respond(request, match, knobs)
        response.delay += knobs.latency_ms / 1000
        response.headers["X-Request-Id"] = str(uuid.uuid4())
        response.headers["X-Worker-Source"] = "capgo-sim"
        template = match.route.template if match else "<unmatched>"
        route = f"{request.method} {template}"
        self._counters.add(route, response.status)
        if self.arrivals.recording:  # off but in fault tests: no record built per request
            self.arrivals.add(
                Arrival(
                    arrived,
                    route,
                    response.status,
                    answered_at=arrived + response.delay,
                    retry_after=retry_after_of(response.headers),
                )
            )
        return response

    def _respond(self, request: SimRequest, match: Match | None, knobs: Knobs) -> SimResponse:
        if match is None:
            return not_found()
        fault = self._faults.before(knobs)
        if fault is not None:
            return fault
        try:
            principal = self._authorize(request, match.route.middleware, knobs)
            with self._world.lock:
                payload = match.route.handler(Ctx(self._world, request, principal, match.params))
        except ApiError as error:
            return error_response(error)
        except Exception:  # the backend turns any crash into this 500
            log.exception("simulated handler crashed: %s %s", request.method, request.path)
            return error_response(unknown_error())
        ok = json_response(200, self._faults.mangle(knobs, payload))
        return self._faults.malformed(knobs, ok.body) or ok

    def _authorize(self, request: SimRequest, kind: Middleware, knobs: Knobs) -> Principal:
        if kind is Middleware.NONE:
            return _ANONYMOUS
        ip = request.header("cf-connecting-ip") or request.client_ip
        self._guard.check(ip)
        try:
            with self._world.lock:
                principal = authenticate(self._world, request, kind)
        except ApiError as error:
            if error.status == 401:
                self._guard.record_failure(ip)
            raise
        self._limiter.take(principal.key.id, knobs.rate_limit_per_min, knobs.rate_limit_burst)
        return principal

    def transport(self) -> httpx.AsyncBaseTransport:
        return AsyncSimTransport(self.handle)

    def sync_transport(self) -> httpx.BaseTransport:
        return SyncSimTransport(self.handle)

    @contextmanager
    def serve_tcp(
        self, host: str = "127.0.0.1", port: int = 0, *, gzip: bool = False
    ) -> Iterator[str]:
        """Serve over TCP in a background thread; yields the base URL. With ``gzip``, large
        bodies are compressed for clients that accept it, as Capgo's CDN does."""
        with running_server(self.handle, host, port, compress=gzip) as url:
            yield url

    # -- observing and steering -----------------------------------------------------------

    @property
    def world(self) -> World:
        """The live state, for tests that need ids or key values (hold world.lock to mutate)."""
        return self._world

    def now(self) -> datetime:
        return self._clock()

    def request_counts(self) -> dict[str, int]:
        return self._counters.by_route()

    def status_counts(self) -> dict[str, int]:
        return self._counters.by_status()

    def reset_request_counts(self) -> None:
        self._counters.reset()

    def knobs(self) -> Knobs:
        return self._knobs.get()

    def configure(self, **knobs: Any) -> Knobs:
        """Change any run-time knob (see config.Knobs); raises ValueError on unknown/bad ones."""
        return self._knobs.update(**knobs)

    def revoke_key(self, value: str) -> ApiKey:
        """Delete a key while clients use it (see faults.revoke_key); `restore_key` undoes it."""
        return revoke_key(self._world, value)

    def restore_key(self, key: ApiKey) -> None:
        restore_key(self._world, key)

    def touch_devices(self, app_id: str, n: int) -> list[str]:
        with self._world.lock:
            store = self._world.devices[app_id]
            names = [
                b.name for b in self._world.live_bundles(app_id) if b.name not in RESERVED_BUNDLES
            ]
            indices = store.touch(n, to_ms(self._clock()), names)
            return [store.device_id(i) for i in indices]

    def add_devices(self, app_id: str, n: int) -> list[str]:
        with self._world.lock:
            store = self._world.devices[app_id]
            return [store.device_id(i) for i in store.add(n, to_ms(self._clock()))]

    def truth(
        self, cycle_start_day: int = 1, max_bundles_per_app: int | None = None
    ) -> GroundTruth:
        with self._world.lock:
            return compute_truth(self._world, cycle_start_day, max_bundles_per_app)

    def org_ids(self) -> list[str]:
        with self._world.lock:
            return [o.id for o in self._world.live_orgs()]

    def app_ids(self, org_id: str | None = None) -> list[str]:
        with self._world.lock:
            return [a.app_id for a in self._world.live_apps(org_id)]
