"""Plan usage rules: each organization's MAU, storage and bandwidth against its plan's limits,
the MAU projected to the end of the billing cycle, and the alerts on them.

Limits exist only where the exporter is configured with them, so an organization without a
limit has no ratio and no alert. Per-organization gauges are combined with ``max``: an HA pair
of exporters scraping the same account must not double them.
"""

from __future__ import annotations

from typing import Final

from capgo_exporter.mixin.config import DAY, Config
from capgo_exporter.mixin.ruledocs import Alert, Record, Severity

MAU_RATIO: Final = "org_id:capgo_org_monthly_active_users_per_limit:ratio"
STORAGE_RATIO: Final = "org_id:capgo_org_storage_bytes_per_limit:ratio"
BANDWIDTH_RATIO: Final = "org_id:capgo_org_bandwidth_bytes_per_limit:ratio"
MAU_PROJECTED: Final = "org_id:capgo_org_monthly_active_users:projected_cycle_end"


def records(config: Config) -> tuple[Record, ...]:
    select = config.select
    usage = (
        (MAU_RATIO, "capgo_org_monthly_active_users", "capgo_org_monthly_active_users_limit"),
        (STORAGE_RATIO, "capgo_org_storage_bytes", "capgo_org_storage_limit_bytes"),
        (BANDWIDTH_RATIO, "capgo_org_bandwidth_bytes", "capgo_org_bandwidth_limit_bytes"),
    )
    return (
        # Limits exist only when configured, so orgs without one have no ratio at all.
        *(
            Record(
                name,
                f"max by (org_id) ({select(used)})\n/\nmax by (org_id) ({select(limit)})\n",
            )
            for name, used, limit in usage
        ),
        Record(MAU_PROJECTED, mau_projection(config)),
    )


def mau_projection(config: Config) -> str:
    """Today's MAU plus its recent growth rate, carried to the cycle's end.

    A cycle's MAU grows fastest in its first days (every returning device is new to the
    cycle): a rate averaged since the cycle start overshoots, the recent rate follows the
    slowdown. Capgo updates MAU about daily, hence a look-back of days. It must lie within
    the cycle (MAU restarts at the cycle start), so a younger cycle uses the whole days it
    has: from its second day on. `or` keeps the longest look-back that exists per org.
    """
    mau = config.select("capgo_org_monthly_active_users")
    cycle_end = config.select("capgo_org_billing_cycle_end_timestamp_seconds")
    cycle_start = config.select("capgo_org_billing_cycle_start_timestamp_seconds")
    terms = [
        f"(\n  max by (org_id) ({mau})\n"
        f"  + max by (org_id) (deriv({mau}[{days}d]))\n"
        f"  * max by (org_id) ({cycle_end} - time())\n"
        f"  and on (org_id)\n  max by (org_id) (time() - {cycle_start}) > {days * DAY}\n)"
        for days in range(config.projection_window_days, 0, -1)
    ]
    return "\nor\n".join(terms) + "\n"


def alerts(config: Config) -> tuple[Alert, ...]:
    usage = (
        ("CapgoMonthlyActiveUsersNearLimit", MAU_RATIO, "monthly active users"),
        ("CapgoStorageNearLimit", STORAGE_RATIO, "storage"),
        ("CapgoBandwidthNearLimit", BANDWIDTH_RATIO, "bandwidth"),
    )
    levels: tuple[tuple[Severity, float, str], ...] = (
        ("warning", config.usage_warning, "30m"),
        ("critical", config.usage_critical, "15m"),
    )
    near = tuple(
        Alert(
            name,
            severity,
            f"{ratio} >= {threshold:g}",
            f"A Capgo organization is near its plan's {what} limit.",
            "Organization {{ $labels.org_id }} uses {{ $value | humanizePercentage }} of "
            f"its plan's {what} limit.",
            for_,
        )
        for name, ratio, what in usage
        for severity, threshold, for_ in levels
    )
    projected = Alert(
        "CapgoMonthlyActiveUsersProjectedOverLimit",
        "warning",
        f"{MAU_PROJECTED}\n/ on (org_id)\n"
        f"max by (org_id) ({config.select('capgo_org_monthly_active_users_limit')})\n> 1\n",
        "A Capgo organization is on course to pass its plan's MAU limit this cycle.",
        f"Growing as in the last {config.projection_window_days} days (fewer while the cycle "
        "is younger), organization {{ $labels.org_id }} "
        "will reach {{ $value | humanizePercentage }} of its plan's monthly active users "
        "limit by the end of the billing cycle.",
        "3h",
    )
    return (*near, projected)
