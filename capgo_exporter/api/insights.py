"""Device events per action and bundle (``POST /private/stats/insights``).

A private, unversioned route: the answer is validated strictly, and a body that no longer has
the expected shape raises CapgoResponseError instead of turning into wrong numbers. Fields the
exporter does not read may come and go; the ones it reads must be there, typed as expected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError

from capgo_exporter.api.core import CapgoHTTP
from capgo_exporter.api.errors import CapgoResponseError, private_route_shape_error
from capgo_exporter.api.routes import Routes

ROUTE = "/private/stats/insights"
ROUTES = Routes(polled=(ROUTE,))
ALLOWED_DAYS = (1, 3, 7, 30)
# What the route counts when no action is named (the server's default failure list).
DEFAULT_FAILURE_ACTIONS: tuple[str, ...] = (
    "set_fail",
    "update_fail",
    "download_fail",
    "windows_path_fail",
    "canonical_path_fail",
    "directory_path_fail",
    "unzip_fail",
    "low_mem_fail",
    "download_manifest_file_fail",
    "download_manifest_checksum_fail",
    "download_manifest_brotli_fail",
    "finish_download_fail",
    "manifest_path_fail",
    "decrypt_fail",
    "insufficient_disk_space",
    "app_crash",
    "app_crash_native",
    "app_anr",
    "app_killed_low_memory",
    "app_killed_excessive_resource_usage",
    "app_initialization_failure",
    "webview_javascript_error",
    "webview_unhandled_rejection",
    "webview_resource_error",
    "webview_security_policy_violation",
    "webview_unclean_restart",
    "webview_render_process_gone",
    "webview_content_process_terminated",
    "cannotGetBundle",
    "checksum_fail",
    "blocked_by_server_url",
    "backend_refusal",
)
TOP_ACTIONS = 20  # rows of `actions` per call
TOP_PAIRS = 30  # rows of `versions` ((action, bundle) pairs) per call


class _Strict(BaseModel):
    # Unknown fields are fine (additions); missing or mistyped ones are a changed shape.
    model_config = ConfigDict(extra="ignore", frozen=True)


class InsightSummary(_Strict):
    total: StrictInt
    device_count: StrictInt
    action_count: StrictInt


class ActionEvents(_Strict):
    action: StrictStr
    total: StrictInt
    device_count: StrictInt
    version_count: StrictInt | None = None
    latest_version_name: StrictStr | None = None


class BundleEvents(_Strict):
    action: StrictStr
    version_name: StrictStr
    total: StrictInt
    device_count: StrictInt


class DailyEvents(_Strict):
    date: StrictStr
    action: StrictStr
    total: StrictInt


class InsightPeriod(_Strict):
    requested_days: StrictInt
    start: StrictStr
    end: StrictStr
    labels: list[StrictStr]


class Insight(_Strict):
    summary: InsightSummary
    actions: list[ActionEvents]
    daily: list[DailyEvents]
    versions: list[BundleEvents]
    period: InsightPeriod


def check_days(days: int) -> int:
    if days not in ALLOWED_DAYS:
        raise ValueError(f"days must be one of 1, 3, 7, 30, got {days}")
    return days


def parse_insight(payload: Any, *, days: int) -> Insight:
    """The answer, or CapgoResponseError naming what changed."""
    try:
        insight = Insight.model_validate(payload)
    except ValidationError as exc:
        raise private_route_shape_error(ROUTE, exc) from None
    if insight.period.requested_days != days:
        raise CapgoResponseError(
            f"POST {ROUTE} answered a {insight.period.requested_days}-day window for a "
            f"{days}-day question; the private route may have changed",
            endpoint=ROUTE,
        )
    return insight


class Insights:
    def __init__(self, http: CapgoHTTP) -> None:
        self._http = http

    async def app(
        self, app_id: str, *, days: int = 7, actions: Sequence[str] | None = None
    ) -> Insight:
        """Events of ``actions`` (default: the failure list) over the last ``days`` UTC days."""
        body: dict[str, Any] = {"appId": app_id, "days": check_days(days)}
        if actions:
            body["actions"] = list(actions)
        payload = await self._http.call("POST", ROUTE, body=body)
        return parse_insight(payload, days=days)
