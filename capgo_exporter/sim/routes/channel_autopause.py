"""POST /channel's auto-pause fields (``autoPause*`` or snake_case), as Capgo validates them:
threshold 0..10000 bps or null, confidence strictly between 0 and 1, window and cooldown in
minutes (cooldown 0..10080), minimums null or at least 0, action pause | rollback | notify.
Anything else is 400 ``invalid_rollout_config``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from capgo_exporter.sim.model import Channel
from capgo_exporter.sim.protocol import bad_request


def _whole(low: int, high: int | None, *, nullable: bool) -> Callable[[Any], bool]:
    def valid(value: Any) -> bool:
        if value is None:
            return nullable
        if isinstance(value, bool) or not isinstance(value, int):
            return False
        return value >= low and (high is None or value <= high)

    return valid


def _confidence(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, int | float) and 0 < value < 1


# channel attribute -> (camelCase name, validity)
_FIELDS: Final[dict[str, tuple[str, Callable[[Any], bool]]]] = {
    "auto_pause_enabled": ("autoPauseEnabled", lambda v: isinstance(v, bool)),
    "auto_pause_failure_rate_bps": ("autoPauseFailureRateBps", _whole(0, 10_000, nullable=True)),
    "auto_pause_confidence": ("autoPauseConfidence", _confidence),
    "auto_pause_window_minutes": ("autoPauseWindowMinutes", _whole(1, None, nullable=False)),
    "auto_pause_min_attempts": ("autoPauseMinAttempts", _whole(0, None, nullable=True)),
    "auto_pause_min_failures": ("autoPauseMinFailures", _whole(0, None, nullable=True)),
    "auto_pause_action": ("autoPauseAction", lambda v: v in ("pause", "rollback", "notify")),
    "auto_pause_cooldown_minutes": ("autoPauseCooldownMinutes", _whole(0, 10_080, nullable=False)),
}
KEYS: Final = tuple(name for attr, (camel, _) in _FIELDS.items() for name in (camel, attr))


def apply_auto_pause(channel: Channel, body: dict[str, Any]) -> None:
    """Validate every auto-pause field of ``body`` first, then set them."""
    changes: dict[str, Any] = {}
    for attr, (camel, valid) in _FIELDS.items():
        for name in (camel, attr):
            if name in body:
                if not valid(body[name]):
                    raise bad_request("invalid_rollout_config", f"Invalid {camel}")
                changes[attr] = body[name]
    for attr, value in changes.items():
        setattr(channel, attr, value)
