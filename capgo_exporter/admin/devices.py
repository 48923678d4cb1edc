"""``admin device list | get | set-channel | unset-channel`` (``/device``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

from capgo_exporter.admin.context import Context, UsageError
from capgo_exporter.admin.group import GroupFactory
from capgo_exporter.admin.output import Column, plain
from capgo_exporter.admin.values import moment
from capgo_exporter.api.devices import DEFAULT_PAGE_SIZE
from capgo_exporter.progress import TerminalProgress

COLUMNS = (
    Column("DEVICE_ID", "device_id"),
    Column("PLATFORM", "platform"),
    Column("BUNDLE", "version_name"),
    Column("NATIVE", "version_build"),
    Column("CHANNEL", "channel"),
    Column("PROD", "is_prod"),
    Column("EMULATOR", "is_emulator"),
    Column("UPDATED", "updated_at", "date"),
)
FIELDS = ("device_id", "app_id", "platform", "version_name", "version_build", "channel")
# What Capgo accepts as a custom id filter (longer: 400 invalid_custom_id).
CUSTOM_ID_MAX = 36


def custom_id(text: str) -> str:
    """``--custom-id``: matched exactly, surrounding spaces removed, as Capgo does."""
    value = text.strip()
    if not value or len(value) > CUSTOM_ID_MAX:
        raise argparse.ArgumentTypeError(
            f"invalid custom id {text!r}: 1 to {CUSTOM_ID_MAX} characters"
        )
    return value


async def list_devices(ctx: Context, args: argparse.Namespace) -> None:
    progress = TerminalProgress(sys.stderr)

    async def devices() -> AsyncIterator[dict[str, Any]]:
        pages = count = 0
        try:
            async for page in ctx.capgo.devices.pages(
                args.app_id,
                updated_after=args.updated_since,
                page_size=ctx.settings.device_page_size or DEFAULT_PAGE_SIZE,
                custom_id=args.custom_id,
            ):
                pages, count = pages + 1, count + len(page)
                progress.device_walk_progress(args.app_id, pages=pages, devices=count, walking=True)
                for device in page:
                    yield plain(device)
        finally:
            progress.finish()

    await ctx.out.rows(devices(), COLUMNS, "devices")


async def get_device(ctx: Context, args: argparse.Namespace) -> None:
    ctx.out.document(plain(await ctx.capgo.devices.get(args.app_id, args.device_id)), FIELDS)


def device_ids(given: str, stdin: Iterable[str]) -> list[str]:
    """DEVICE_ID as given or, when it is ``-``, the ids on standard input, one per line (blank
    lines skipped): ``device list | jq -r .device_id | … set-channel APP - beta`` moves many
    devices in one command instead of starting one per device."""
    if given != "-":
        return [given]
    ids = [line.strip() for line in stdin if line.strip()]
    if not ids:
        raise UsageError("no device id on standard input (DEVICE_ID - reads one per line)")
    return ids


async def _each_device(
    ctx: Context, given: str, change: Callable[[str], Awaitable[Any]], outcome: str
) -> None:
    """``change`` every device named, in order; on a failure, which device and how many were
    done go to stderr before the error, so a rerun can start from there."""
    ids = device_ids(given, sys.stdin)
    for done, device_id in enumerate(ids):
        try:
            answer = await change(device_id)
        except Exception:
            if len(ids) > 1:
                ctx.out.note(f"stopped at device {device_id}: {done} of {len(ids)} done")
            raise
        ctx.out.done(f"device {device_id} {outcome}", plain(answer))


async def set_channel(ctx: Context, args: argparse.Namespace) -> None:
    await _each_device(
        ctx,
        args.device_id,
        lambda device_id: ctx.capgo.devices.set_channel(args.app_id, device_id, args.channel),
        f"now gets channel {args.channel}",
    )


async def unset_channel(ctx: Context, args: argparse.Namespace) -> None:
    await _each_device(
        ctx,
        args.device_id,
        lambda device_id: ctx.capgo.devices.unset_channel(args.app_id, device_id),
        "has no channel override",
    )


def register(group: GroupFactory) -> None:
    device = group("device", "devices and their channel overrides")
    listing = device.command(
        "list", list_devices, "every device of an app (walks every page)", "app_id"
    )
    listing.add_argument(
        "--updated-since", type=moment, metavar="TIME", help="only devices seen after TIME (ISO)"
    )
    listing.add_argument(
        "--custom-id",
        type=custom_id,
        metavar="ID",
        help="only the devices whose custom id (set by the app) is exactly ID",
    )
    device.command("get", get_device, "show one device", "app_id", "device_id")
    device.command(
        "set-channel",
        set_channel,
        "force a device onto a (non-public) channel; DEVICE_ID - reads ids from stdin",
        "app_id",
        "device_id",
        "channel",
    )
    device.command(
        "unset-channel",
        unset_channel,
        "remove a device's channel override; DEVICE_ID - reads ids from stdin",
        "app_id",
        "device_id",
    )
