"""The /_sim/ control routes (no auth): counters, knobs, ground truth, device churn.

A layer over the simulated API (`with_control_routes`): it answers /_sim/ paths from the
simulator's controls (`SimControls`) and hands every other request to the API's handler.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from capgo_exporter.sim.config import Knobs
from capgo_exporter.sim.protocol import (
    RequestHandler,
    SimRequest,
    SimResponse,
    bad_request,
    error_response,
    json_response,
    not_found,
)
from capgo_exporter.sim.router import Router
from capgo_exporter.sim.truth import GroundTruth


class SimControls(Protocol):
    """What the control routes read and steer: the `Simulator`'s methods of the same names."""

    def request_counts(self) -> dict[str, int]: ...

    def status_counts(self) -> dict[str, int]: ...

    def reset_request_counts(self) -> None: ...

    def configure(self, **knobs: Any) -> Knobs: ...

    def truth(
        self, cycle_start_day: int = 1, max_bundles_per_app: int | None = None
    ) -> GroundTruth: ...

    def app_ids(self, org_id: str | None = None) -> list[str]: ...

    def touch_devices(self, app_id: str, n: int) -> list[str]: ...

    def add_devices(self, app_id: str, n: int) -> list[str]: ...


def _error(message: str) -> SimResponse:
    return error_response(bad_request("invalid_body", message))


def truth_json(truth: GroundTruth) -> Any:
    """JSON for GroundTruth: datetimes as ISO strings, tuple keys joined with "|"."""

    def convert(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat()
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return {f.name: convert(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, dict):
            return {
                ("|".join(str(p) for p in k) if isinstance(k, tuple) else str(k)): convert(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    return convert(truth)


def _body(request: SimRequest) -> dict[str, Any]:
    body = request.json_body()
    return body if isinstance(body, dict) else {}


def _requests(sim: SimControls, request: SimRequest) -> SimResponse:
    by_status = request.query_params().get("by") == "status"
    return json_response(200, sim.status_counts() if by_status else sim.request_counts())


def _reset_requests(sim: SimControls, request: SimRequest) -> SimResponse:
    sim.reset_request_counts()
    return json_response(200, {"status": "ok"})


def _configure(sim: SimControls, request: SimRequest) -> SimResponse:
    try:
        knobs = sim.configure(**_body(request))
    except (TypeError, ValueError) as exc:
        return _error(str(exc))
    return json_response(200, dataclasses.asdict(knobs))


def _truth(sim: SimControls, request: SimRequest) -> SimResponse:
    params = request.query_params()
    day = params.get("cycle_start_day", "1")
    top = params.get("max_bundles_per_app")
    if not day.isdigit() or not 1 <= int(day) <= 31 or (top is not None and not top.isdigit()):
        return _error("cycle_start_day must be 1..31, max_bundles_per_app an integer")
    truth = sim.truth(int(day), int(top) if top is not None else None)
    return json_response(200, truth_json(truth))


def _change_devices(
    sim: SimControls, request: SimRequest, change: Callable[[str, int], list[str]]
) -> SimResponse:
    body = _body(request)
    app_id, n = body.get("app_id"), body.get("n")
    if app_id not in sim.app_ids() or not isinstance(n, int) or n < 0:
        return _error("expected {app_id: <existing app>, n: <int >= 0>}")
    return json_response(200, {"device_ids": change(str(app_id), n)})


def _touch(sim: SimControls, request: SimRequest) -> SimResponse:
    return _change_devices(sim, request, sim.touch_devices)


def _add(sim: SimControls, request: SimRequest) -> SimResponse:
    return _change_devices(sim, request, sim.add_devices)


@dataclass(frozen=True)
class AdminRoute:
    method: str
    template: str
    handler: Callable[[SimControls, SimRequest], SimResponse]


# Routed like Capgo's own routes: a trailing slash and the /functions/v1 prefix are accepted.
_ROUTER = Router(
    (
        AdminRoute("GET", "/_sim/requests", _requests),
        AdminRoute("POST", "/_sim/requests/reset", _reset_requests),
        AdminRoute("POST", "/_sim/config", _configure),
        AdminRoute("GET", "/_sim/truth", _truth),
        AdminRoute("POST", "/_sim/touch", _touch),
        AdminRoute("POST", "/_sim/add", _add),
    )
)


def with_control_routes(controls: SimControls, api: RequestHandler) -> RequestHandler:
    """A handler answering /_sim/ paths (404 for one it does not know) from ``controls``, and
    every other request with ``api``."""

    def handle(request: SimRequest) -> SimResponse:
        if not Router.normalize(request.path).startswith("/_sim/"):
            return api(request)
        match = _ROUTER.match(request.method, request.path)
        return match.route.handler(controls, request) if match else not_found()

    return handle
