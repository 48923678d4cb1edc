"""``admin channel list | get | set | delete`` (``/channel``).

``set`` is Capgo's create-or-update (``POST /channel``). Its flags follow the Capgo CLI's
``channel set``; ``--from-json`` takes what ``channel get --output json`` prints (a file or
``-``), so a channel's settings can be saved, edited and put back. Flags win over the file.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from capgo_exporter.admin import rollout
from capgo_exporter.admin.context import Context, UsageError
from capgo_exporter.admin.group import GroupFactory
from capgo_exporter.admin.output import Column, plain
from capgo_exporter.admin.values import given
from capgo_exporter.api.channels import AUTO_UPDATE_LIMITS, BOOLEAN_SETTINGS

COLUMNS = (
    Column("ID", "id"),
    Column("NAME", "name"),
    Column("BUNDLE", "version.name"),
    Column("PUBLIC", "public"),
    Column("AUTO_UPDATE_LIMIT", "disableAutoUpdate"),
    Column("ROLLOUT_BUNDLE", "rollout_version_info.name"),
    Column("ROLLOUT_BPS", "rolloutPercentageBps"),
    Column("ROLLOUT_ON", "rolloutEnabled"),
    Column("PAUSED", "rolloutPausedAt", "date"),
)
FIELDS = ("id", "name", "app_id", "version", "public", "disableAutoUpdate", "rolloutEnabled")

# Settings copied as they are from a `channel get` document (Capgo's names on both sides).
_COPIED = (
    *BOOLEAN_SETTINGS,
    "disableAutoUpdate",
    "disableAutoUpdateUnderNative",
    "rolloutEnabled",
    "rolloutPercentageBps",
    "rolloutPauseReason",
)
# flag dest → POST /channel field
_FLAGS = {
    "bundle": "version",
    "public": "public",
    "ios": "ios",
    "android": "android",
    "electron": "electron",
    "disable_auto_update": "disableAutoUpdate",
    "disable_auto_update_under_native": "disableAutoUpdateUnderNative",
    "self_assign": "allow_device_self_set",
    "emulator": "allow_emulator",
    "device": "allow_device",
    "dev": "allow_dev",
    "prod": "allow_prod",
    "rollout_bundle": "rolloutVersion",
    "rollout_percentage": "rolloutPercentage",
    "rollout_enabled": "rolloutEnabled",
    "rollout_paused": "rolloutPaused",
    "pause_reason": "rolloutPauseReason",
}


def _read_json(source: str) -> Mapping[str, Any]:
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        doc = json.loads(text)
    except OSError as error:
        raise UsageError(f"--from-json: cannot read {source!r}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise UsageError(f"--from-json: {source!r} is not JSON: {error.msg}") from None
    if not isinstance(doc, dict):
        raise UsageError(f"--from-json: {source!r} must hold one channel object")
    return doc


def settings_from_document(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The ``POST /channel`` fields that reproduce a channel as ``channel get`` printed it."""
    body = {name: doc[name] for name in _COPIED if name in doc}
    if "version" in doc:
        version = doc["version"]
        body["version"] = version.get("name") if isinstance(version, Mapping) else version
    rollout = doc.get("rollout_version_info")
    if isinstance(rollout, Mapping) and rollout.get("name"):
        body["rolloutVersion"] = rollout["name"]
    if "rolloutPausedAt" in doc:
        body["rolloutPaused"] = doc["rolloutPausedAt"] is not None
    if not body.get("rolloutPaused"):
        body.pop("rolloutPauseReason", None)  # Capgo reads it only with a pause
    return body


async def list_channels(ctx: Context, args: argparse.Namespace) -> None:
    channels = (plain(c) async for c in ctx.capgo.channels.list(args.app_id))
    await ctx.out.rows(channels, COLUMNS, "channels")


async def get_channel(ctx: Context, args: argparse.Namespace) -> None:
    ctx.out.document(plain(await ctx.capgo.channels.get(args.app_id, args.channel)), FIELDS)


async def set_channel(ctx: Context, args: argparse.Namespace) -> None:
    body = settings_from_document(_read_json(args.from_json)) if args.from_json else {}
    body |= given(args, _FLAGS)
    if not body:
        raise UsageError("channel set: nothing to set — give a flag (see --help) or --from-json")
    answer = await ctx.capgo.channels.set(args.app_id, args.channel, **body)
    ctx.out.done(f"set channel {args.channel} of {args.app_id}", plain(answer))


async def delete_channel(ctx: Context, args: argparse.Namespace) -> None:
    ctx.confirm(f"delete channel {args.channel} of {args.app_id}")
    answer = await ctx.capgo.channels.delete(args.app_id, args.channel)
    ctx.out.done(f"deleted channel {args.channel} of {args.app_id}", plain(answer))


def _percentage(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"invalid percentage {text!r} — use 0 to 100")
    return value


def _set_flags(leaf: argparse.ArgumentParser) -> None:
    flag = argparse.BooleanOptionalAction
    leaf.add_argument(
        "--from-json", metavar="FILE", help="settings from `channel get -o json` (- for stdin)"
    )
    leaf.add_argument(
        "-b", "--bundle", metavar="VERSION", help="bundle to serve (builtin clears it)"
    )
    leaf.add_argument("--public", action=flag, help="the default channel of the app")
    for platform in ("ios", "android", "electron"):
        leaf.add_argument(f"--{platform}", action=flag, help=f"serve {platform} devices")
    leaf.add_argument(
        "--disable-auto-update",
        choices=AUTO_UPDATE_LIMITS,
        help="highest semver part updated automatically",
    )
    leaf.add_argument("--disable-auto-update-under-native", action=flag)
    leaf.add_argument("--self-assign", action=flag, help="devices may pick this channel themselves")
    leaf.add_argument("--emulator", action=flag, help="serve emulators")
    leaf.add_argument("--device", action=flag, help="serve physical devices")
    leaf.add_argument("--dev", action=flag, help="serve development builds")
    leaf.add_argument("--prod", action=flag, help="serve production builds")
    rollout = leaf.add_argument_group("rollout (an existing channel only)")
    rollout.add_argument("--rollout-bundle", metavar="VERSION", help="bundle being rolled out")
    rollout.add_argument("--rollout-percentage", type=_percentage, metavar="PERCENT")
    on = rollout.add_mutually_exclusive_group()
    on.add_argument("--rollout-enable", dest="rollout_enabled", action="store_const", const=True)
    on.add_argument("--rollout-disable", dest="rollout_enabled", action="store_const", const=False)
    pause = rollout.add_mutually_exclusive_group()
    pause.add_argument("--rollout-pause", dest="rollout_paused", action="store_const", const=True)
    pause.add_argument("--rollout-resume", dest="rollout_paused", action="store_const", const=False)
    rollout.add_argument("--pause-reason", metavar="TEXT", help="with --rollout-pause")


def register(group: GroupFactory) -> None:
    channel = group("channel", "channels: which bundle each device gets")
    channel.command("list", list_channels, "every channel of an app", "app_id")
    channel.command("get", get_channel, "show one channel", "app_id", "channel")
    _set_flags(
        channel.command("set", set_channel, "create or update a channel", "app_id", "channel")
    )
    channel.command("delete", delete_channel, "delete a channel (asks first)", "app_id", "channel")
    rollout.register(channel)
