"""Path matching: templates with `{param}`, an optional trailing slash and /functions/v1."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from capgo_exporter.sim.routes.base import Route

_EDGE_PREFIX = "/functions/v1"  # the Supabase edge-function deployment


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


class Router:
    def __init__(self, routes: Sequence[Route]) -> None:
        self._compiled = [
            (route, re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", route.template) + "$"))
            for route in routes
        ]

    @staticmethod
    def normalize(path: str) -> str:
        if path.startswith(_EDGE_PREFIX + "/"):
            path = path[len(_EDGE_PREFIX) :]
        return path.rstrip("/") or "/"

    def match(self, method: str, path: str) -> Match | None:
        """The route for (method, path); an unknown method on a known path is no match (404)."""
        path = self.normalize(path)
        for route, pattern in self._compiled:
            if route.method != method:
                continue
            found = pattern.match(path)
            if found:
                return Match(route, {k: unquote(v) for k, v in found.groupdict().items()})
        return None
