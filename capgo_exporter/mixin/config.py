"""What a user may change when rendering the mixin's rules, and the series selector it scopes.

Every rule module (usage_rules, exporter_rules, rollout_rules, autopause_rules, apikey_rules,
release_rules)
reads a `Config` and builds its selectors with `Config.select`; rules.py assembles their groups.
It imports nothing of the exporter, so no rule module depends on another through it.

Of the exporter's own settings only the events window is repeated here (``events_days``: an
``offset`` in PromQL takes a fixed duration). The staleness alerts read each collector's max age
from the exporter itself (``capgo_exporter_collector_max_age_seconds``), so changing an interval
or the max age needs no new rules.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

DEFAULT_SELECTOR: Final = 'job="capgo"'
# Where docs/runbooks.md is published; each alert links to its own heading there. Point it at
# your own copy (a wiki, a fork) with --runbook-url-base.
DEFAULT_RUNBOOK_URL_BASE: Final = (
    "https://github.com/capgo-exporter/capgo-exporter/blob/main/docs/runbooks.md"
)

# Seconds in a day, for thresholds configured in days.
DAY: Final = 86_400


@dataclass(frozen=True)
class Config:
    """What a user may change when rendering their own rules."""

    # Scopes every series selector, e.g. 'job="capgo"' or 'job="capgo",cluster="eu"'.
    selector: str = DEFAULT_SELECTOR
    runbook_url_base: str = DEFAULT_RUNBOOK_URL_BASE
    usage_warning: float = 0.8
    usage_critical: float = 0.95
    api_error_ratio: float = 0.1
    # MAU growth is measured over this many days; a younger cycle uses the whole days it has.
    projection_window_days: int = 3
    rollout_stall_hours: int = 24
    # Adoption growing by less than this over the stall window counts as not growing.
    rollout_min_growth: float = 0.01
    apikey_warning_days: int = 7
    apikey_critical_days: int = 1
    # CapgoBundleFailureRateHigh: the Wilson score lower bound of a bundle's failure ratio at
    # this confidence is above bundle_failure_ratio, and the bundle has at least this many
    # failure events in the window (5: a couple of crashes on a tester's device must not page,
    # and a bundle failing 20 % of its attempts has 5 within its first 25 or so).
    bundle_failure_ratio: float = 0.05
    bundle_failure_confidence: float = 0.95
    bundle_failure_min_failures: int = 5
    events_days: int = 7
    crash_rise_factor: float = 2.0
    crash_min_per_day: float = 10.0
    # Rollouts and Capgo's auto-pause (autopause_rules.py). Near: the rollout's lower bound
    # is at least this share of its channel's threshold. Failing without auto-pause: the lower
    # bound is above rollout_failure_ratio with at least rollout_min_failures failures. Worse
    # than stable: a one-sided two-proportion test at this confidence. Capgo checks every 5
    # minutes: a check older than auto_pause_check_stale_minutes means it stopped. Not acting:
    # a trigger verdict this long on a rollout not paused: two of Capgo's checks (10 minutes)
    # plus the exporter's lag in seeing Capgo's pause (the inventory interval, 5 minutes by
    # default, with its jitter); at 10 minutes a pause made at Capgo's second check but read
    # at the next inventory run would page.
    auto_pause_not_acting_minutes: int = 16
    rollout_near_ratio: float = 0.7
    rollout_failure_ratio: float = 0.05
    rollout_min_failures: int = 5
    rollout_vs_stable_confidence: float = 0.99
    auto_pause_check_stale_minutes: int = 15

    def select(self, metric: str, *matchers: str) -> str:
        """A series selector of ``metric`` scoped by the configured selector, plus
        ``matchers`` (``'reason="rate_limited"'``)."""
        inner = ",".join(part for part in (self.selector, *matchers) if part)
        return f"{metric}{{{inner}}}" if inner else metric
