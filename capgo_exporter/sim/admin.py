"""The /_sim/ control routes (no auth): counters, knobs, ground truth, device churn."""

from __future__ import annotations

import dataclasses
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


def handle_admin(sim: Simulator, request: SimRequest) -> SimResponse:
    route = (request.method, request.path.rstrip("/"))
    params = request.query_params()
    body = request.json_body()
    body = body if isinstance(body, dict) else {}
    if route == ("GET", "/_sim/requests"):
        return json_response(
            200, sim.status_counts() if params.get("by") == "status" else sim.request_counts()
        )
    if route == ("POST", "/_sim/requests/reset"):
        sim.reset_request_counts()
        return json_response(200, {"status": "ok"})
    if route == ("POST", "/_sim/config"):
        try:
            knobs = sim.configure(**body)
        except (TypeError, ValueError) as exc:
            return _error(str(exc))
        return json_response(200, dataclasses.asdict(knobs))
    if route == ("GET", "/_sim/truth"):
        day = params.get("cycle_start_day", "1")
        top = params.get("max_bundles_per_app")
        if not day.isdigit() or not 1 <= int(day) <= 31 or (top is not None and not top.isdigit()):
            return _error("cycle_start_day must be 1..31, max_bundles_per_app an integer")
        truth = sim.truth(int(day), int(top) if top is not None else None)
        return json_response(200, truth_json(truth))
    if route in (("POST", "/_sim/touch"), ("POST", "/_sim/add")):
        app_id, n = body.get("app_id"), body.get("n")
        if app_id not in sim.app_ids() or not isinstance(n, int) or n < 0:
            return _error("expected {app_id: <existing app>, n: <int >= 0>}")
        change = sim.touch_devices if route[1] == "/_sim/touch" else sim.add_devices
        return json_response(200, {"device_ids": change(str(app_id), n)})
    return not_found()
