"""Capgo's rollout auto-pause decision, computed exactly as Capgo computes it.

Capgo checks every channel rollout with auto-pause enabled every 5 minutes
(``triggers/cron_rollout_auto_pause.ts``) and pauses it, rolls it back or notifies when the
failure rate of its bundle is, with the channel's confidence, above the channel's threshold
(``utils/rollout.ts``: ``wilsonLowerBoundBps``, ``evaluateAutoPausePolicy``). This module is that
decision as pure functions: the exporter's prediction, the simulator's own Capgo and
``capgo-exporter admin channel rollout-status`` all call it, so they cannot disagree on the
arithmetic, only on the counts they feed it.

What is copied exactly, because a verdict flips on one basis point:

- Φ⁻¹ is Acklam's rational approximation (not an exact quantile: 1.959963986120195 for 0.95,
  where the exact value is 1.959963984540054), with the confidence clamped to
  [0.0001, 0.9999];
- every ratio is an integer number of basis points: ``floor(x * 10000)`` clamped to 0..10000
  (a non-finite value is 0), in the same floating-point operations in the same order;
- the decision takes the first of: disabled, no threshold, cooldown, too few attempts, too few
  failures, no failure at all, below the threshold; otherwise it triggers.

The counts: installs are ``set`` events of the rollout bundle, failures the events whose action
ends in ``_fail``, both over ``[now - window, now)`` and only from production devices that are
not emulators.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal, cast, get_args

MAX_BPS: Final = 10_000
DEFAULT_CONFIDENCE: Final = 0.95
DEFAULT_WINDOW_MINUTES: Final = 60
DEFAULT_COOLDOWN_MINUTES: Final = 60
# Capgo queues the check when the minute is a multiple of 5.
CHECK_EVERY_MINUTES: Final = 5

INSTALL_ACTION: Final = "set"
# The actions of Capgo's stats_action enum that end in "_fail" (supabase.types.ts): the
# failures auto-pause counts. Crashes, ANRs and webview errors are not among them.
FAILURE_ACTIONS: Final[tuple[str, ...]] = (
    "set_fail",
    "update_fail",
    "download_fail",
    "windows_path_fail",
    "canonical_path_fail",
    "directory_path_fail",
    "unzip_fail",
    "low_mem_fail",
    "download_manifest_file_fail",
    "download_manifest_checksum_fail",
    "download_manifest_brotli_fail",
    "finish_download_fail",
    "manifest_path_fail",
    "decrypt_fail",
    "checksum_fail",
)
COUNTED_ACTIONS: Final = (INSTALL_ACTION, *FAILURE_ACTIONS)

Action = Literal["pause", "rollback", "notify"]
ACTIONS: Final = cast(tuple[Action, ...], get_args(Action))
# Capgo's reasons, in the order it tests them; "trigger" is its "triggered".
Verdict = Literal[
    "disabled",
    "missing_threshold",
    "cooldown",
    "insufficient_attempts",
    "insufficient_failures",
    "below_threshold",
    "trigger",
]
VERDICTS: Final = cast(tuple[Verdict, ...], get_args(Verdict))

# Acklam's coefficients, as utils/rollout.ts spells them.
_A: Final = (
    -39.69683028665376,
    220.9460984245205,
    -275.9285104469687,
    138.357751867269,
    -30.66479806614716,
    2.506628277459239,
)
_B: Final = (
    -54.47609879822406,
    161.5858368580409,
    -155.6989798598866,
    66.80131188771972,
    -13.28068155288572,
)
_C: Final = (
    -0.007784894002430293,
    -0.3223964580411365,
    -2.400758277161838,
    -2.549732539343734,
    4.374664141464968,
    2.938163982698783,
)
_D: Final = (0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416)
_P_LOW: Final = 0.02425


def is_failure(action: str) -> bool:
    return action.endswith("_fail")


def normal_quantile(p: float) -> float:
    """Φ⁻¹(p) by Acklam's approximation, evaluated as Capgo evaluates it."""
    if not 0 < p < 1:
        raise ValueError("p must be between 0 and 1")
    a, b, c, d = _A, _B, _C, _D
    if p < _P_LOW:
        q = math.sqrt(-2 * math.log(p))
        return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    if p > 1 - _P_LOW:
        q = math.sqrt(-2 * math.log(1 - p))
        return -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / (
            (((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1
        )
    q = p - 0.5
    r = q * q
    return (
        (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5])
        * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
    )


def bps(value: float | None) -> int:
    """A value as Capgo's integer basis points: floored, clamped to 0..10000, 0 when not
    finite (``sanitizeRolloutPercentageBps``)."""
    number = 0.0 if value is None else float(value)
    if not math.isfinite(number):
        return 0
    return min(max(math.floor(number), 0), MAX_BPS)


def z_of(confidence: float) -> float:
    """The z Capgo uses for a two-sided ``confidence`` (clamped to [0.0001, 0.9999])."""
    bounded = min(max(confidence, 0.0001), 0.9999)
    return normal_quantile(1 - ((1 - bounded) / 2))


def wilson_lower_bound_bps(failures: float, attempts: float, confidence: float) -> int:
    """The Wilson score lower bound of failures / attempts, in Capgo's integer basis points."""
    if attempts <= 0:
        return 0
    z = z_of(confidence)
    phat = failures / attempts
    z2 = z * z
    denominator = 1 + z2 / attempts
    centre = phat + z2 / (2 * attempts)
    margin = z * math.sqrt((phat * (1 - phat) + z2 / (4 * attempts)) / attempts)
    return bps(((centre - margin) / denominator) * MAX_BPS)


@dataclass(frozen=True)
class Policy:
    """A channel's auto-pause settings as Capgo's check reads them (nulls already defaulted
    where Capgo defaults them: confidence 0.95, cooldown 60 minutes, window 60 minutes)."""

    enabled: bool = False
    threshold_bps: float | None = None
    confidence: float = DEFAULT_CONFIDENCE
    window_minutes: float = DEFAULT_WINDOW_MINUTES
    min_attempts: float | None = None
    min_failures: float | None = None
    action: Action = "pause"
    cooldown_minutes: float = DEFAULT_COOLDOWN_MINUTES
    last_triggered_at: datetime | None = None

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=effective_window_minutes(self.window_minutes))


def effective_window_minutes(minutes: float | None) -> float:
    """The window Capgo counts over: a missing, non-finite or non-positive one is 60 minutes."""
    if minutes is None or not math.isfinite(minutes) or minutes <= 0:
        return DEFAULT_WINDOW_MINUTES
    return minutes


def action_of(text: str | None) -> Action:
    """Capgo's reading of the configured action: anything but rollback or notify pauses."""
    return "rollback" if text == "rollback" else "notify" if text == "notify" else "pause"


@dataclass(frozen=True)
class Evaluation:
    attempts: int
    failures: int
    failure_rate_bps: int
    lower_bound_bps: int
    threshold_bps: int | None
    verdict: Verdict
    action: Action

    @property
    def triggers(self) -> bool:
        return self.verdict == "trigger"


def evaluate(policy: Policy, installs: float, failures: float, now: datetime) -> Evaluation:
    """What Capgo's check decides for these counts at ``now`` (``evaluateAutoPausePolicy``)."""
    attempts = max(0, math.floor(installs + failures))
    failed = max(0, math.floor(failures))
    rate = bps((failed / attempts) * MAX_BPS) if attempts > 0 else 0
    threshold = None if policy.threshold_bps is None else bps(policy.threshold_bps)
    lower = wilson_lower_bound_bps(failed, attempts, policy.confidence)

    def result(verdict: Verdict) -> Evaluation:
        return Evaluation(attempts, failed, rate, lower, threshold, verdict, policy.action)

    if not policy.enabled:
        return result("disabled")
    if threshold is None:
        return result("missing_threshold")
    cooldown = timedelta(minutes=max(0.0, policy.cooldown_minutes))
    last = policy.last_triggered_at
    if last is not None and cooldown > timedelta(0) and last + cooldown > now:
        return result("cooldown")
    if policy.min_attempts is not None and attempts < policy.min_attempts:
        return result("insufficient_attempts")
    if policy.min_failures is not None and failed < policy.min_failures:
        return result("insufficient_failures")
    if failed == 0 or lower < threshold:
        return result("below_threshold")
    return result("trigger")


def pause_reason(channel: str, bundle: str, evaluation: Evaluation) -> str:
    """The ``rolloutPauseReason`` Capgo writes when its check triggers."""
    e = evaluation
    return (
        f"Auto-pause {e.action} for {channel} rollout {bundle}: fail {e.failure_rate_bps}bps, "
        f"confidence lower bound {e.lower_bound_bps}bps, threshold {e.threshold_bps}bps, "
        f"attempts {e.attempts}."
    )


_REASON: Final = re.compile(
    r"^Auto-pause (?P<action>pause|rollback|notify) for .* rollout .*: "
    r"fail (?P<rate>\d+)bps, confidence lower bound (?P<lower>\d+)bps, "
    r"threshold (?P<threshold>\d+|null)bps, attempts (?P<attempts>\d+)\.$",
    re.DOTALL,
)


@dataclass(frozen=True)
class Triggered:
    """The figures Capgo wrote in ``rolloutPauseReason`` when its check acted."""

    action: Action
    failure_rate_bps: int
    lower_bound_bps: int
    attempts: int


def parse_pause_reason(text: str | None) -> Triggered | None:
    """The figures of an auto-pause reason; None for any other reason (a pause by hand)."""
    match = _REASON.match(text or "")
    if match is None:
        return None
    return Triggered(
        action_of(match["action"]),
        int(match["rate"]),
        int(match["lower"]),
        int(match["attempts"]),
    )
