"""``admin app list | get`` (``/app``)."""

from __future__ import annotations

import argparse

from capgo_exporter.admin.context import Context
from capgo_exporter.admin.group import GroupFactory
from capgo_exporter.admin.output import Column, plain

COLUMNS = (
    Column("APP_ID", "app_id"),
    Column("NAME", "name"),
    Column("ORG", "owner_org"),
    Column("LAST_VERSION", "last_version"),
)
FIELDS = ("app_id", "name", "id", "owner_org", "last_version", "created_at", "updated_at")


async def list_apps(ctx: Context, args: argparse.Namespace) -> None:
    apps = (plain(app) async for app in ctx.capgo.apps.list(args.org_id))
    await ctx.out.rows(apps, COLUMNS, "apps")


async def get_app(ctx: Context, args: argparse.Namespace) -> None:
    ctx.out.document(plain(await ctx.capgo.apps.get(args.app_id)), FIELDS)


def register(group: GroupFactory) -> None:
    app = group("app", "apps")
    app.command("list", list_apps, "list apps").add_argument(
        "--org-id", metavar="ORG_ID", help="only this organization's apps"
    )
    app.command("get", get_app, "show one app", "app_id")
