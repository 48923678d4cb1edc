"""``admin channel list | get | set | delete`` (``/channel``).

``set`` is Capgo's create-or-update (``POST /channel``). Its flags follow the Capgo CLI's
``channel set``; ``--from-json`` takes what ``channel get --output json`` prints (a file or
``-``), so a channel's settings can be saved, edited and put back. Flags win over the file.

A document of *another* channel (its ``name`` is not CHANNEL: a copy) gives its settings only,
never what decides where devices go: ``public``, the bundle and the rollout stay as they are
unless a flag names them (or the file is edited to name CHANNEL). Before sending, a change that
moves devices is said on stderr (:mod:`.moves`), in a dry run too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from capgo_exporter.admin.context import Context, UsageError
from capgo_exporter.admin.group import GroupFactory
from capgo_exporter.admin.moves import MOVING_FIELDS, device_moves
from capgo_exporter.admin.output import Column, plain
from capgo_exporter.admin.values import given
from capgo_exporter.api import BadRequestError, NotFoundError
from capgo_exporter.api.channels import AUTO_UPDATE_LIMITS, BOOLEAN_SETTINGS
from capgo_exporter.api.models import Channel

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
CURRENT_BUNDLE_FIELDS = ("bundle_name", "bundle_id", "min_update_version", "disable_auto_update")

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


def from_document(doc: Mapping[str, Any], channel: str) -> tuple[dict[str, Any], list[str]]:
    """What ``--from-json`` sends to ``channel``, and the fields it left out: all of
    `settings_from_document` for a document of that channel (or of none), its settings alone
    for another channel's (a copy must not move that channel's devices here)."""
    body = settings_from_document(doc)
    source = doc.get("name")
    if source is None or source == channel:
        return body, []
    left_out = [field for field in (*MOVING_FIELDS, "rolloutPauseReason") if field in body]
    for field in left_out:
        del body[field]
    return body, left_out


async def list_channels(ctx: Context, args: argparse.Namespace) -> None:
    channels = (plain(c) async for c in ctx.capgo.channels.list(args.app_id))
    await ctx.out.rows(channels, COLUMNS, "channels")


async def get_channel(ctx: Context, args: argparse.Namespace) -> None:
    ctx.out.document(plain(await ctx.capgo.channels.get(args.app_id, args.channel)), FIELDS)


async def current_bundle(ctx: Context, args: argparse.Namespace) -> None:
    """``GET /channel/current-bundle``; where Capgo does not serve it yet (404), the same
    fields from ``GET /channel``, said on stderr."""
    try:
        doc = plain(await ctx.capgo.channels.current_bundle(args.app_id, args.channel))
    except NotFoundError:
        channel = await ctx.capgo.channels.get(args.app_id, args.channel)
        ctx.out.note("this Capgo has no GET /channel/current-bundle: read from GET /channel")
        doc = {
            "bundle_name": channel.bundle_name,
            "bundle_id": channel.version.id if channel.version else None,
            "disable_auto_update": channel.disable_auto_update,
        }
    ctx.out.document(doc, CURRENT_BUNDLE_FIELDS)


async def set_channel(ctx: Context, args: argparse.Namespace) -> None:
    body: dict[str, Any] = {}
    if args.from_json:
        doc = _read_json(args.from_json)
        body, left_out = from_document(doc, args.channel)
        if left_out:
            ctx.out.note(
                f"--from-json: {args.from_json} holds channel {doc.get('name')}, not "
                f"{args.channel}: left out {', '.join(left_out)} (name them with a flag, or "
                f'set "name" to {args.channel} in the file, to change them)'
            )
    body |= given(args, _FLAGS)
    if not body:
        raise UsageError("channel set: nothing to set — give a flag (see --help) or --from-json")
    await _say_moves(ctx, args, body)
    answer = await ctx.capgo.channels.set(args.app_id, args.channel, **body)
    ctx.out.done(f"set channel {args.channel} of {args.app_id}", plain(answer))


async def _say_moves(ctx: Context, args: argparse.Namespace, body: dict[str, Any]) -> None:
    """Warn on stderr of each change that moves devices, before anything is sent. The channel
    is read first to leave out what would not change; a dry run reads nothing."""
    if not any(field in body for field in MOVING_FIELDS):
        return
    current: Channel | None = None
    known = not ctx.dry_run
    if known:
        try:
            current = await ctx.capgo.channels.get(args.app_id, args.channel)
        except BadRequestError as error:
            known = error.code == "cannot_find_version"  # no such channel yet: a new one
    for line in device_moves(args.app_id, args.channel, body, current, known):
        ctx.out.note(f"warning: {line}")


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
        "--from-json",
        metavar="FILE",
        help="settings from `channel get -o json` (- for stdin); another channel's document "
        "gives its settings, never its public flag, bundle or rollout",
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
    channel.command(
        "current-bundle",
        current_bundle,
        "the bundle a channel serves now, with its update constraints",
        "app_id",
        "channel",
    )
    _set_flags(
        channel.command("set", set_channel, "create or update a channel", "app_id", "channel")
    )
    channel.command("delete", delete_channel, "delete a channel (asks first)", "app_id", "channel")
