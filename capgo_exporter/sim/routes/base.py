"""What every handler gets and the checks most of them share."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from capgo_exporter.sim.auth import Middleware
from capgo_exporter.sim.model import App, Org
from capgo_exporter.sim.protocol import ApiError, SimRequest, bad_request, unknown_error
from capgo_exporter.sim.rbac import Principal
from capgo_exporter.sim.state import World

_APP_ID = re.compile(r"^[a-z0-9]+(\.[\w-]+)+$", re.IGNORECASE)
PAGE_SIZE = 50
MAX_ROWS = 1000  # PostgREST max_rows


@dataclass(frozen=True)
class Ctx:
    world: World
    request: SimRequest
    principal: Principal  # routes without auth never read it
    path: dict[str, str]


Handler = Callable[[Ctx], Any]


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # "/statistics/app/{app_id}": the request-counter key, never an id
    middleware: Middleware
    handler: Handler


def require(params: dict[str, Any], *names: str) -> None:
    """`missing_<name>` for the first of `names` that is absent or empty."""
    for name in names:
        if not params.get(name):
            raise bad_request(f"missing_{name}", f"Missing {name}")


def app_id_param(params: dict[str, Any]) -> str:
    require(params, "app_id")
    value = params["app_id"]
    if not isinstance(value, str) or not _APP_ID.match(value):
        raise bad_request("invalid_app_id", "App ID must be a reverse domain string", app_id=value)
    return value


def app_with(ctx: Ctx, app_id: str, permission: str, error: ApiError) -> App:
    """The live app if the key holds `permission` on it; `error` otherwise (no existence oracle)."""
    app = ctx.world.app(app_id)
    if app is None or not ctx.principal.can(permission, app.owner_org, app.id):
        raise error
    return app


def org_with(ctx: Ctx, org_id: object, permission: str, error: ApiError) -> Org:
    """The live org if the key holds `permission` on it; `error` otherwise (no existence oracle)."""
    org = ctx.world.org(org_id) if isinstance(org_id, str) else None
    if org is None or not ctx.principal.can(permission, org.id):
        raise error
    return org


def no_app_access() -> ApiError:
    return bad_request("cannot_access_app", "You can't access this app")


def page_window(page: Any) -> tuple[int, int]:
    """Rows [start, stop) that `.range(page*50, (page+1)*50-1)` selects.

    A numeric (JSON) page behaves. A query-string page is a JS string: `page*50` coerces to a
    number but `page+1` concatenates, so "1" selects rows 50..549, capped at PostgREST's
    max_rows (Capgo's public/channel/get.ts and public/bundle/get.ts).
    """
    if page is None:
        return 0, PAGE_SIZE
    if isinstance(page, int) and not isinstance(page, bool) and page >= 0:
        return page * PAGE_SIZE, (page + 1) * PAGE_SIZE
    if isinstance(page, str) and page.isdigit():
        start = int(page) * PAGE_SIZE
        stop = int(page + "1") * PAGE_SIZE
        return start, min(stop, start + MAX_ROWS)
    raise unknown_error()  # NaN or negative range: PostgREST rejects it
