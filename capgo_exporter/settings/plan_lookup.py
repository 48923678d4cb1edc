"""An organization's plan: its ``org_plans`` table (by id, else by name) over the
``--plan.*`` flags."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from capgo_exporter.settings.model import Settings
from capgo_exporter.settings.plans import OrgPlan


@dataclass(frozen=True)
class Plan:
    """What one organization's figures are compared with."""

    mau_limit: int | None
    storage_limit_bytes: int | None
    bandwidth_limit_bytes: int | None
    billing_cycle_start_day: int


def plan_for(settings: Settings, org_id: str, org_name: str | None = None) -> Plan:
    """The organization's plan: its table (by id, else by name) over the flags."""
    tables: Mapping[str, OrgPlan] = settings.org_plans
    table = tables.get(org_id) or (tables.get(org_name) if org_name else None) or OrgPlan()
    return Plan(
        mau_limit=_first(table.mau_limit, settings.plan_mau_limit),
        storage_limit_bytes=_first(table.storage_limit, settings.plan_storage_limit_bytes),
        bandwidth_limit_bytes=_first(table.bandwidth_limit, settings.plan_bandwidth_limit_bytes),
        billing_cycle_start_day=_first(
            table.billing_cycle_start_day, settings.billing_cycle_start_day
        ),
    )


def _first(value: Any, default: Any) -> Any:
    return default if value is None else value


def unmatched(settings: Settings, orgs: Mapping[str, str | None]) -> list[str]:
    """The tables that name no organization of ``orgs`` (id → name): most likely a typo."""
    names = {name for name in orgs.values() if name}
    return [key for key in settings.org_plans if key not in orgs and key not in names]
