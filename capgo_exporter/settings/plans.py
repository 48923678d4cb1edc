"""Plans: the limits and billing-cycle day the quota metrics and alerts compare usage with.

The ``--plan.*`` flags give every organization the same plan. ``org_plans`` overrides them per
organization, named by id or by name: in a TOML file, one table each,

    [org_plans."Acme Mobile"]
    mau_limit = 50000
    billing_cycle_start_day = 15

    [org_plans."0f1c2a9e-7d3b-4c55-9a0e-2b6d8f3c1e77"]
    storage_limit = "10GiB"

or as ``--plan.orgs`` / ``CAPGO_EXPORTER_PLAN_ORGS``: ``NAME: key=value, …; NAME: …`` with the
same keys (dashes work too: ``mau-limit=50000``). A key a table leaves out is the flag's;
``plan_lookup`` resolves an organization's plan.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from capgo_exporter.settings.names import Setting
from capgo_exporter.settings.units import ByteSize

CycleDay = Annotated[int, Field(ge=1, le=31)]


class OrgPlan(BaseModel):
    """One organization's plan; a value left out is the ``--plan.*`` flag's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mau_limit: Annotated[int, Field(ge=0)] | None = None
    storage_limit: ByteSize | None = None
    bandwidth_limit: ByteSize | None = None
    billing_cycle_start_day: CycleDay | None = None


def parse_org_plans(value: object) -> object:
    """``--plan.orgs`` text into tables; a mapping (from TOML) as it is."""
    if not isinstance(value, str):
        return value
    tables: dict[str, dict[str, str]] = {}
    for entry in filter(str.strip, value.split(";")):
        name, colon, pairs = entry.partition(":")
        if not colon or not name.strip():
            raise ValueError(f"{entry.strip()!r}: use ORG: key=value, … (ORG an id or a name)")
        table = tables.setdefault(name.strip(), {})
        for pair in filter(str.strip, pairs.split(",")):
            key, equals, item = pair.partition("=")
            if not equals:
                raise ValueError(f"{pair.strip()!r}: use key=value, e.g. mau-limit=10000")
            table[key.strip().replace("-", "_")] = item.strip()
    return tables


OrgPlans = Annotated[
    dict[str, OrgPlan],
    BeforeValidator(parse_org_plans),
    Setting(
        flag="--plan.orgs",
        help="Plans per organization, by id or name, over the `--plan.*` flags: in a config "
        'file one table each (`[org_plans."Acme Mobile"]` with `mau_limit`, `storage_limit`, '
        "`bandwidth_limit`, `billing_cycle_start_day`); as a flag or variable "
        "`Acme Mobile: mau-limit=50000, billing-cycle-start-day=15; Initech: mau-limit=10000`.",
    ),
]
