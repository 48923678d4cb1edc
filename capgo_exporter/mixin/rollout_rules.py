"""Rollout rules: the devices of each app recorded once, and the alerts on a channel's rollout
(stalled, paused).

Channel gauges are combined with ``max`` per (app, channel): an HA pair of exporters scraping
the same account must not double them.
"""

from __future__ import annotations

from typing import Final

from capgo_exporter.mixin.config import Config
from capgo_exporter.mixin.ruledocs import Alert, Record

APP_DEVICES: Final = "app_id:capgo_app_devices:sum"

_BY_CHANNEL: Final = "max by (app_id, channel)"
_CHANNEL: Final = "channel {{ $labels.channel }} of app {{ $labels.app_id }}"


def records(config: Config) -> tuple[Record, ...]:
    return (Record(APP_DEVICES, f"sum by (app_id) ({config.select('capgo_app_devices')})"),)


def alerts(config: Config) -> tuple[Alert, ...]:
    return (_stalled(config), _paused(config))


def _stalled(config: Config) -> Alert:
    """A rollout that is enabled, not paused, not complete, unchanged for the window, and whose
    adoption has not moved: nobody is promoting it or devices do not take it."""
    adoption = config.select("capgo_channel_bundle_adoption_ratio")
    hours = config.rollout_stall_hours
    by = _BY_CHANNEL
    return Alert(
        "CapgoRolloutStalled",
        "warning",
        f"{by} ({adoption}) < 1\n"
        "and on (app_id, channel)\n"
        f"(\n  {by} ({adoption})\n  - {by} ({adoption} offset {hours}h)\n)"
        f" < {config.rollout_min_growth:g}\n"
        "and on (app_id, channel)\n"
        f"{by} ({config.select('capgo_channel_rollout_paused')}) == 0\n"
        "unless on (app_id, channel)\n"
        f"{by} (time() - {config.select('capgo_channel_updated_timestamp_seconds')})"
        f" < {hours * 3600}\n",
        "A Capgo rollout has stopped progressing.",
        f"The rollout on {_CHANNEL} has been unchanged for {hours} hours, and its "
        "bundle's adoption, now {{ $value | humanizePercentage }}, has gained less than "
        f"{config.rollout_min_growth * 100:g}% of the channel's devices in that time.",
        "1h",
    )


def _paused(config: Config) -> Alert:
    return Alert(
        "CapgoRolloutPaused",
        "warning",
        f"{_BY_CHANNEL} ({config.select('capgo_channel_rollout_paused')}) == 1",
        "A Capgo rollout is paused.",
        f"The rollout on {_CHANNEL} has been paused for 15 minutes (by hand, or by "
        "Capgo's auto-pause on failed updates).",
        "15m",
    )
