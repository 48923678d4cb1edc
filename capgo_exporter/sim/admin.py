"""The /_sim/ control routes (no auth): counters, knobs, ground truth, device churn."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from capgo_exporter.sim.protocol import (
    SimRequest,
    SimResponse,
    bad_request,
    error_response,
    json_response,
    not_found,
)
from capgo_exporter.sim.router import Router
from capgo_exporter.sim.truth import GroundTruth

if TYPE_CHECKING:
    from capgo_exporter.sim.simulator import Simulator


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


def _requests(sim: Simulator, request: SimRequest) -> SimResponse:
    by_status = request.query_params().get("by") == "status"
    return json_response(200, sim.status_counts() if by_status else sim.request_counts())


def _reset_requests(sim: Simulator, request: SimRequest) -> SimResponse:
    sim.reset_request_counts()
    return json_response(200, {"status": "ok"})


def _configure(sim: Simulator, request: SimRequest) -> SimResponse:
    try:
        knobs = sim.configure(**_body(request))
    except (TypeError, ValueError) as exc:
        return _error(str(exc))
    return json_response(200, dataclasses.asdict(knobs))


def _truth(sim: Simulator, request: SimRequest) -> SimResponse:
    params = request.query_params()
    day = params.get("cycle_start_day", "1")
    top = params.get("max_bundles_per_app")
    if not day.isdigit() or not 1 <= int(day) <= 31 or (top is not None and not top.isdigit()):
        return _error("cycle_start_day must be 1..31, max_bundles_per_app an integer")
    truth = sim.truth(int(day), int(top) if top is not None else None)
    return json_response(200, truth_json(truth))


def _change_devices(
    sim: Simulator, request: SimRequest, change: Callable[[str, int], list[str]]
) -> SimResponse:
    body = _body(request)
    app_id, n = body.get("app_id"), body.get("n")
    if app_id not in sim.app_ids() or not isinstance(n, int) or n < 0:
        return _error("expected {app_id: <existing app>, n: <int >= 0>}")
    return json_response(200, {"device_ids": change(str(app_id), n)})


def _touch(sim: Simulator, request: SimRequest) -> SimResponse:
    return _change_devices(sim, request, sim.touch_devices)


def _add(sim: Simulator, request: SimRequest) -> SimResponse:
    return _change_devices(sim, request, sim.add_devices)


@dataclass(frozen=True)
class AdminRoute:
    method: str
    template: str
    handler: Callable[[Simulator, SimRequest], SimResponse]


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


def handle_admin(sim: Simulator, request: SimRequest) -> SimResponse:
    match = _ROUTER.match(request.method, request.path)
    return match.route.handler(sim, request) if match else not_found()
