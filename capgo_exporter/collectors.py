"""The collector registry: one declaration per collector, from which everything else derives.

Settings (an interval field per collector), flags and environment variables, the generated
docs, the daemon (which collectors to build), the scheduler (which collectors wait for the
inventory's discovery), ``check`` (which endpoints to probe), the metric catalogue and the
mixin's staleness rules all read `REGISTRY`; none of them names a collector itself
(``tests/test_collectors.py`` fails when one does).

Adding a collector: its module under ``capgo_exporter/collect/`` (its metrics, a ``build`` and a
``probes`` function: see ``collect/registry.py``), its name in `CollectorName`, one
`CollectorSpec` below, and its route in the simulator.

This module is data only and imports nothing of the exporter's, so that anything may import
it: settings do, and ``collect/registry.py`` loads the modules it names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, cast, get_args

# mypy needs the names spelled as a Literal; a test checks it lists exactly REGISTRY's keys.
CollectorName = Literal["inventory", "statistics", "devices", "account", "events"]


@dataclass(frozen=True)
class CollectorSpec:
    name: CollectorName
    # Module under capgo_exporter.collect declaring the collector (collect/registry.py).
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
        """Its flag; the settings derive the environment variable from it, as for any flag."""
        return f"--collector.{self.name}.interval"


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
