"""Capgo's auto-pause decision (utils/rollout.ts), checked against Capgo's own figures."""

from __future__ import annotations

import math
from datetime import timedelta
from statistics import NormalDist

import pytest

from capgo_exporter.autopause import (
    FAILURE_ACTIONS,
    VERDICTS,
    Evaluation,
    Policy,
    action_of,
    bps,
    effective_window_minutes,
    evaluate,
    is_failure,
    normal_quantile,
    parse_pause_reason,
    pause_reason,
    wilson_lower_bound_bps,
    z_of,
)
from tests.clock import PINNED_NOW

NOW = PINNED_NOW


@pytest.mark.parametrize(
    ("failures", "attempts", "confidence", "expected"),
    [(10, 100, 0.95, 552), (5, 67, 0.95, 322), (120, 1000, 0.99, 960)],
)
def test_the_bound_is_capgos_on_its_reference_values(
    failures: int, attempts: int, confidence: float, expected: int
) -> None:
    assert wilson_lower_bound_bps(failures, attempts, confidence) == expected


def test_phi_inverse_is_acklams_approximation_not_the_exact_quantile() -> None:
    # Acklam's 0.975 quantile, as Capgo computes it; the exact one is 1.959963984540054.
    assert z_of(0.95) == 1.959963986120195
    assert z_of(0.95) != NormalDist().inv_cdf(0.975)
    for p in (0.001, 0.02, 0.3, 0.5, 0.9, 0.99, 0.9999):  # every branch, within 1.15e-9
        assert math.isclose(normal_quantile(p), NormalDist().inv_cdf(p), abs_tol=1.2e-8)
    with pytest.raises(ValueError, match="between 0 and 1"):
        normal_quantile(1.0)


def test_confidence_is_clamped_as_capgo_clamps_it() -> None:
    assert z_of(1.0) == z_of(0.9999)
    assert z_of(0.0) == z_of(0.0001)


def test_basis_points_are_floored_and_clamped() -> None:
    assert (bps(12.99), bps(-3), bps(20_000), bps(float("nan")), bps(None)) == (12, 0, 10_000, 0, 0)
    assert wilson_lower_bound_bps(0, 0, 0.95) == 0
    assert wilson_lower_bound_bps(0, 50, 0.95) == 0
    assert wilson_lower_bound_bps(50, 50, 0.95) == 9286


def test_failures_are_the_actions_ending_in_fail() -> None:
    assert all(is_failure(action) for action in FAILURE_ACTIONS)
    assert not any(is_failure(a) for a in ("set", "app_crash", "webview_javascript_error"))


def _policy(**changes: object) -> Policy:
    base: dict[str, object] = {"enabled": True, "threshold_bps": 500}
    return Policy(**(base | changes))  # type: ignore[arg-type]


def test_each_reason_in_capgos_order() -> None:
    def verdict(policy: Policy, installs: int, failures: int) -> str:
        return evaluate(policy, installs, failures, NOW).verdict

    recent = NOW - timedelta(minutes=30)
    # Every check fails at once; the first one in Capgo's order wins.
    worst = _policy(enabled=False, threshold_bps=None, last_triggered_at=recent, min_attempts=10**6)
    assert verdict(worst, 0, 90) == "disabled"
    assert verdict(_policy(threshold_bps=None, last_triggered_at=recent), 0, 90) == (
        "missing_threshold"
    )
    assert verdict(_policy(last_triggered_at=recent, min_attempts=10**6), 0, 90) == "cooldown"
    assert verdict(_policy(min_attempts=101, min_failures=100), 10, 90) == ("insufficient_attempts")
    assert verdict(_policy(min_attempts=100, min_failures=91), 10, 90) == ("insufficient_failures")
    assert verdict(_policy(threshold_bps=0), 100, 0) == "below_threshold"  # no failure at all
    assert verdict(_policy(), 95, 5) == "below_threshold"
    assert verdict(_policy(), 90, 10) == "trigger"  # 552 bps >= 500
    assert {verdict(_policy(threshold_bps=t), 90, 10) for t in (552, 553)} == {
        "trigger",
        "below_threshold",
    }


def test_the_cooldown_ends_exactly_when_capgo_says() -> None:
    policy = _policy(cooldown_minutes=60, last_triggered_at=NOW - timedelta(minutes=60))
    assert evaluate(policy, 90, 10, NOW).verdict == "trigger"  # last + cooldown > now: no
    policy = _policy(cooldown_minutes=60, last_triggered_at=NOW - timedelta(minutes=59))
    assert evaluate(policy, 90, 10, NOW).verdict == "cooldown"
    policy = _policy(cooldown_minutes=0, last_triggered_at=NOW)
    assert evaluate(policy, 90, 10, NOW).verdict == "trigger"


def test_counts_are_floored_and_the_rate_is_in_basis_points() -> None:
    result = evaluate(_policy(), 2.9, 1.5, NOW)
    assert (result.attempts, result.failures, result.failure_rate_bps) == (4, 1, 2500)
    assert evaluate(_policy(), 0, 0, NOW) == Evaluation(0, 0, 0, 0, 500, "below_threshold", "pause")


def test_windows_and_actions_read_as_capgo_reads_them() -> None:
    assert [effective_window_minutes(m) for m in (None, 0, -5, float("inf"), 15)] == [
        60,
        60,
        60,
        60,
        15,
    ]
    assert [action_of(a) for a in ("rollback", "notify", "pause", "PAUSE", None)] == [
        "rollback",
        "notify",
        "pause",
        "pause",
        "pause",
    ]


def test_the_pause_reason_round_trips() -> None:
    result = evaluate(_policy(action="rollback"), 900, 120, NOW)
    text = pause_reason("production", "1.4.0", result)
    assert text == (
        "Auto-pause rollback for production rollout 1.4.0: fail 1176bps, confidence lower "
        "bound 992bps, threshold 500bps, attempts 1020."
    )
    parsed = parse_pause_reason(text)
    assert parsed is not None
    assert (parsed.action, parsed.failure_rate_bps, parsed.lower_bound_bps, parsed.attempts) == (
        "rollback",
        1176,
        992,
        1020,
    )
    assert parse_pause_reason("failure rate above threshold") is None
    assert parse_pause_reason(None) is None


def test_every_verdict_is_named() -> None:
    assert len(set(VERDICTS)) == 7
