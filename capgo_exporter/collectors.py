"""The collector registry: one declaration per collector, from which everything else derives.

Settings (an interval field per collector), flags and environment variables, the generated
docs, the daemon (which collectors to build), the scheduler (which collectors wait for the
inventory's discovery), ``check`` (which endpoints to probe) and the mixin's staleness rules
all read `REGISTRY`; none of them names a collector itself (``tests/test_collectors.py``
fails when one does).

Adding a collector: its module under ``capgo_exporter/collect/`` (a ``build`` and a ``probes``
function, see `CollectorModule`), its name in `CollectorName`, one `CollectorSpec` below, its
metrics in ``metrics.py`` and its route in the simulator.

This module imports nothing of the exporter's: settings import it, and collector modules
(which import settings) are loaded only when a collector is built or probed.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Final, Literal, Protocol, cast, get_args

if TYPE_CHECKING:
    from capgo_exporter.api import CapgoClient
    from capgo_exporter.api.models import App, Organization
    from capgo_exporter.collect.base import Collector
    from capgo_exporter.settings import Settings

# mypy needs the names spelled as a Literal; a test checks it lists exactly REGISTRY's keys.
CollectorName = Literal["inventory", "statistics", "devices", "account", "events"]


@dataclass(frozen=True)
class Probe:
    """One request ``check`` sends to see whether the key may use an endpoint."""

    endpoint: str
    collector: CollectorName
    # Returns a short outcome ("12 channels"); raises CapgoError when refused or failing.
    run: Callable[[], Awaitable[str]]


class CollectorModule(Protocol):
    """What a collector's module provides to the registry."""

    def build(self, settings: Settings) -> Collector: ...

    def probes(
        self, client: CapgoClient, org: Organization | None, app: App | None, today: date
    ) -> list[Probe]: ...


@dataclass(frozen=True)
class CollectorSpec:
    name: CollectorName
    # Module under capgo_exporter.collect providing `build` and `probes` (CollectorModule).
    module: str
    default_interval: float  # seconds
    # What one run polls: the meaning of its interval in docs and --help.
    polls: str
    # Waits for the inventory's discovery (orgs, apps, channels) before its first run.
    needs_inventory: bool = True
    # Produces the discovery the others wait for; runs first.
    discovers: bool = False

    @property
    def interval_field(self) -> str:
        """The settings field (and TOML key) of its poll interval."""
        return f"{self.name}_interval"

    @property
    def interval_flag(self) -> str:
        return f"--collector.{self.name}.interval"

    @property
    def interval_env(self) -> str:
        return f"CAPGO_EXPORTER_{self.name.upper()}_INTERVAL"

    def load(self) -> CollectorModule:
        return cast(
            CollectorModule, importlib.import_module(f"capgo_exporter.collect.{self.module}")
        )

    def build(self, settings: Settings) -> Collector:
        return self.load().build(settings)


_SPECS: Final = (
    CollectorSpec(
        "inventory",
        "inventory",
        300.0,
        "orgs, apps, channels and bundles",
        needs_inventory=False,
        discovers=True,
    ),
    CollectorSpec("statistics", "statistics", 900.0, "MAU, storage and bandwidth"),
    CollectorSpec(
        "devices", "devices.collector", 300.0, "the devices that changed since the last poll"
    ),
    CollectorSpec("account", "account", 3600.0, "members, invitations and key expiries"),
    CollectorSpec(
        "events", "events", 300.0, "device events (installs, failures, crashes) per app and bundle"
    ),
)

REGISTRY: Final[Mapping[CollectorName, CollectorSpec]] = {spec.name: spec for spec in _SPECS}
# In run order: the discovering collector first.
COLLECTORS: Final[tuple[CollectorName, ...]] = tuple(REGISTRY)


def is_collector_name(name: str) -> bool:
    return name in REGISTRY


def spec_of(name: str) -> CollectorSpec:
    """KeyError for an unknown collector."""
    return REGISTRY[cast(CollectorName, name)]


def literal_names() -> tuple[str, ...]:
    return get_args(CollectorName)
