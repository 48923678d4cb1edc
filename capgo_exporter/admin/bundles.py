"""``admin bundle list | delete VERSION | delete --all | set-channel`` (``/bundle``)."""

from __future__ import annotations

import argparse

from capgo_exporter.admin.context import Context, UsageError
from capgo_exporter.admin.group import GroupFactory
from capgo_exporter.admin.output import Column, plain

COLUMNS = (
    Column("ID", "id"),
    Column("VERSION", "name"),
    Column("CREATED", "created_at", "date"),
    Column("STORAGE", "storage_provider"),
    Column("COMMENT", "comment"),
)


async def list_bundles(ctx: Context, args: argparse.Namespace) -> None:
    bundles = (plain(b) async for b in ctx.capgo.bundles.list(args.app_id))
    await ctx.out.rows(bundles, COLUMNS, "bundles")


async def delete_bundles(ctx: Context, args: argparse.Namespace) -> None:
    # Capgo's DELETE /bundle without a version deletes every bundle: never by omission.
    if args.all == (args.version is not None):
        raise UsageError(
            "bundle delete: give either VERSION or --all (every bundle no channel uses)"
        )
    if args.all:
        ctx.confirm(f"delete every bundle of {args.app_id} that no channel uses")
        # Capgo answers only {"status":"ok"}: the count comes from listing before and after.
        before = await _live_bundles(ctx, args.app_id)
        answer = await ctx.capgo.bundles.delete_all(args.app_id)
        after = await _live_bundles(ctx, args.app_id)
        deleted = max(0, before - after)
        ctx.out.done(
            f"deleted {deleted} unused bundles of {args.app_id}; {after} remain, used by a channel",
            {**plain(answer), "deleted": deleted, "remaining": after},
        )
        return
    ctx.confirm(f"delete bundle {args.version} of {args.app_id}")
    answer = await ctx.capgo.bundles.delete(args.app_id, args.version)
    ctx.out.done(f"deleted bundle {args.version} of {args.app_id}", plain(answer))


async def _live_bundles(ctx: Context, app_id: str) -> int:
    if ctx.dry_run:  # a dry run sends nothing, listing included
        return 0
    return len([bundle async for bundle in ctx.capgo.bundles.list(app_id)])


async def _channel_id(ctx: Context, app_id: str, channel: str) -> int:
    if channel.isdigit():
        return int(channel)
    if ctx.dry_run:
        # Resolving the name would send a request, and a dry run sends nothing.
        raise UsageError(
            f"bundle set-channel --dry-run: give the channel's numeric id, not {channel!r} "
            "(`admin channel get APP_ID CHANNEL -o json` shows it)"
        )
    return (await ctx.capgo.channels.get(app_id, channel)).id


async def set_channel(ctx: Context, args: argparse.Namespace) -> None:
    channel_id = await _channel_id(ctx, args.app_id, args.channel)
    answer = await ctx.capgo.bundles.set_channel(args.app_id, args.bundle_id, channel_id)
    ctx.out.done(f"bundle {args.bundle_id} set on channel {args.channel}", plain(answer))


def register(group: GroupFactory) -> None:
    bundle = group("bundle", "bundles (uploaded builds of the web layer)")
    bundle.command("list", list_bundles, "live bundles of an app, newest first", "app_id")
    delete = bundle.command(
        "delete", delete_bundles, "delete one bundle, or --all (asks first)", "app_id"
    )
    delete.add_argument("version", metavar="VERSION", nargs="?", help="bundle name, e.g. 1.4.2")
    delete.add_argument("--all", action="store_true", help="every bundle no channel uses")
    link = bundle.command("set-channel", set_channel, "serve a bundle on a channel", "app_id")
    link.add_argument("bundle_id", type=int, metavar="BUNDLE_ID", help="`id` from bundle list")
    link.add_argument("channel", metavar="CHANNEL", help="channel name or numeric id")
