"""What a ``channel set`` does to devices, said before it is sent.

Three kinds of change move devices that nobody forced onto a channel: making a channel public
(the app's default: every device without a channel override takes its updates from it), making
the public channel private, and changing the bundle a channel serves or its rollout. Each is
one line on stderr before the request goes out.

``current`` is the channel as Capgo has it now (``None``: it does not exist yet, or a dry run,
which reads nothing). Without it a line says what would happen *if* the channel differs now.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from capgo_exporter.api.models import Channel

# POST /channel fields that change which devices move, or where to.
ROLLOUT_FIELDS = (
    "rolloutVersion",
    "rolloutPercentage",
    "rolloutPercentageBps",
    "rolloutEnabled",
    "rolloutPaused",
)
MOVING_FIELDS = ("public", "version", *ROLLOUT_FIELDS)


def device_moves(
    app_id: str, name: str, body: Mapping[str, Any], current: Channel | None, known: bool
) -> list[str]:
    """One sentence per change in ``body`` that moves devices. ``known``: ``current`` is what
    Capgo has now (``None`` then means a new channel); otherwise nothing was read."""
    lines = [
        *_public(app_id, name, body, current, known),
        *_bundle(name, body, current, known),
        *_rollout(name, body, current, known),
    ]
    if lines and not known:
        lines = [f"if channel {name} differs now: {line}" for line in lines]
    return lines


def _public(
    app_id: str, name: str, body: Mapping[str, Any], current: Channel | None, known: bool
) -> list[str]:
    if "public" not in body:
        return []
    public = bool(body["public"])
    was = current.public if current is not None else (False if known else None)
    if public and was is not True:
        return [
            f"this makes {name} the public channel of {app_id}: every device without a "
            f"channel override moves to it (and leaves the app's public channel now)"
        ]
    if not public and was is not False:
        return [
            f"this makes {name} private: devices without a channel override stop getting "
            f"updates from it"
        ]
    return []


def _bundle(name: str, body: Mapping[str, Any], current: Channel | None, known: bool) -> list[str]:
    if "version" not in body:
        return []
    wanted = body["version"]
    now = current.bundle_name if current is not None else None
    if known and current is not None and now == wanted:
        return []
    target = (
        "the bundle built into the app"
        if wanted in (None, "builtin", "unknown")
        else f"bundle {wanted}"
    )
    since = f" (it serves {now} now)" if now else ""
    return [f"this changes the bundle of {name} to {target}{since}: its devices will install it"]


def _rollout_state(channel: Channel | None) -> tuple[Any, ...]:
    if channel is None:
        return (None, None, None, None)
    rollout = channel.rollout_version_info
    return (
        rollout.name if rollout else None,
        channel.rollout_percentage_bps,
        channel.rollout_enabled,
        channel.rollout_paused_at is not None,
    )


def _rollout(name: str, body: Mapping[str, Any], current: Channel | None, known: bool) -> list[str]:
    given = [field for field in ROLLOUT_FIELDS if field in body]
    if not given:
        return []
    version, bps, enabled, paused = _rollout_state(current)
    if "rolloutPercentage" in body:
        wanted_bps: Any = round(float(body["rolloutPercentage"]) * 100)
    else:
        wanted_bps = body.get("rolloutPercentageBps", bps)
    wanted = (
        body.get("rolloutVersion", version),
        wanted_bps,
        body.get("rolloutEnabled", enabled),
        body.get("rolloutPaused", paused),
    )
    if known and current is not None and wanted == (version, bps, enabled, paused):
        return []
    return [
        f"this changes the rollout of {name} ({', '.join(given)}): devices move between its "
        f"bundle and the rollout bundle"
    ]
