"""``admin device list | get | set-channel | unset-channel`` (``/device``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from typing import Any

from capgo_exporter.admin.context import Context
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


async def set_channel(ctx: Context, args: argparse.Namespace) -> None:
    answer = await ctx.capgo.devices.set_channel(args.app_id, args.device_id, args.channel)
    ctx.out.done(f"device {args.device_id} now gets channel {args.channel}", plain(answer))


async def unset_channel(ctx: Context, args: argparse.Namespace) -> None:
    answer = await ctx.capgo.devices.unset_channel(args.app_id, args.device_id)
    ctx.out.done(f"device {args.device_id} has no channel override", plain(answer))


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
        "force a device onto a (non-public) channel",
        "app_id",
        "device_id",
        "channel",
    )
    device.command(
        "unset-channel", unset_channel, "remove a device's channel override", "app_id", "device_id"
    )
