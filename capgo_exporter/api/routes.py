"""The route templates each API area calls, declared by the area's own module.

Every module under ``api/`` that calls Capgo declares them as ``ROUTES``: each template it
passes to `CapgoHTTP.call` (requests are counted, logged and reported by template, never by
the path with its ids filled in), split into those the exporter's collectors poll and those
only the admin commands use. The exporter's request metrics start at zero for every polled
template (`polled_routes`); ``tests/api/test_routes.py`` fails when a module calls a template
it does not declare, and when a cycle of the exporter polls one not declared as polled.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Routes:
    # Read by the exporter's collectors (their HTTP methods differ: the label is the template).
    polled: tuple[str, ...] = ()
    # Called by admin commands alone.
    admin_only: tuple[str, ...] = ()

    @property
    def every(self) -> tuple[str, ...]:
        return (*self.polled, *self.admin_only)


def declared() -> dict[str, Routes]:
    """Each API module's ``ROUTES``, by module name."""
    found = {}
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        module = importlib.import_module(f"{__package__}.{info.name}")
        routes = getattr(module, "ROUTES", None)
        if isinstance(routes, Routes):
            found[module.__name__] = routes
    return found


def polled_routes() -> tuple[str, ...]:
    """Every template the exporter's collectors poll, sorted."""
    return tuple(sorted({route for routes in declared().values() for route in routes.polled}))
