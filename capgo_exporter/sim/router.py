"""Path matching: templates with `{param}`, an optional trailing slash and /functions/v1.

One router serves Capgo's routes (`routes/table.py`), another the /_sim/ control routes
(`admin.py`): anything with a method and a template can be routed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar
from urllib.parse import unquote

from capgo_exporter.sim.routes.base import Route

_EDGE_PREFIX = "/functions/v1"  # the Supabase edge-function deployment


class Routable(Protocol):
    @property
    def method(self) -> str: ...

    @property
    def template(self) -> str: ...


R = TypeVar("R", bound=Routable)


@dataclass(frozen=True)
class RouteMatch(Generic[R]):
    route: R
    params: dict[str, str]


Match = RouteMatch[Route]  # a match among Capgo's routes


class Router(Generic[R]):
    def __init__(self, routes: Sequence[R]) -> None:
        self._compiled = [
            (route, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", route.template) + "$"))
            for route in routes
        ]

    @staticmethod
    def normalize(path: str) -> str:
        if path.startswith(_EDGE_PREFIX + "/"):
            path = path[len(_EDGE_PREFIX) :]
        return path.rstrip("/") or "/"

    def match(self, method: str, path: str) -> RouteMatch[R] | None:
        """The route for (method, path); an unknown method on a known path is no match (404)."""
        path = self.normalize(path)
        for route, pattern in self._compiled:
            if route.method != method:
                continue
            found = pattern.match(path)
            if found:
                return RouteMatch(route, {k: unquote(v) for k, v in found.groupdict().items()})
        return None
