"""``admin org list | get | create | update | delete`` (``/organization``)."""

from __future__ import annotations

import argparse

from capgo_exporter.admin.context import Context
from capgo_exporter.admin.group import GroupFactory
from capgo_exporter.admin.output import Column, plain
from capgo_exporter.admin.values import given

COLUMNS = (
    Column("ID", "id"),
    Column("NAME", "name"),
    Column("EMAIL", "management_email"),
    Column("WEBSITE", "website"),
)
FIELDS = ("id", "name", "management_email", "website", "created_at", "updated_at")


async def list_orgs(ctx: Context, args: argparse.Namespace) -> None:
    await ctx.out.rows((plain(o) async for o in ctx.capgo.organizations.list()), COLUMNS, "orgs")


async def get_org(ctx: Context, args: argparse.Namespace) -> None:
    ctx.out.document(plain(await ctx.capgo.organizations.get(args.org_id)), FIELDS)


async def create_org(ctx: Context, args: argparse.Namespace) -> None:
    org_id = await ctx.capgo.organizations.create(
        args.name, email=args.email, website=args.website, estimated_mau=args.estimated_mau
    )
    ctx.out.done(f"created organization {args.name}: {org_id}", {"id": org_id})


# flag dest → PUT /organization field
_UPDATABLE = {
    "name": "name",
    "email": "management_email",
    "website": "website",
    "require_apikey_expiration": "require_apikey_expiration",
    "max_apikey_expiration_days": "max_apikey_expiration_days",
    "enforce_hashed_api_keys": "enforce_hashed_api_keys",
    "enforce_2fa": "enforcing_2fa",
}


async def update_org(ctx: Context, args: argparse.Namespace) -> None:
    answer = await ctx.capgo.organizations.update(args.org_id, **given(args, _UPDATABLE))
    ctx.out.done(f"updated organization {args.org_id}", plain(answer))


async def delete_org(ctx: Context, args: argparse.Namespace) -> None:
    ctx.confirm(f"delete organization {args.org_id} and every app in it")
    answer = await ctx.capgo.organizations.delete(args.org_id)
    ctx.out.done(f"deleted organization {args.org_id}", plain(answer))


def register(group: GroupFactory) -> None:
    org = group("org", "organizations")
    org.command("list", list_orgs, "list every organization the key can see")
    org.command("get", get_org, "show one organization", "org_id")

    create = org.command("create", create_org, "create an organization (prints its id)", "name")
    create.add_argument("--email", help="management email (default: the owner's)")
    create.add_argument("--website")
    create.add_argument("--estimated-mau", type=int, help="picks the initial plan")

    update = org.command("update", update_org, "change an organization's settings", "org_id")
    update.add_argument("--name")
    update.add_argument("--email", help="management email")
    update.add_argument("--website")
    flag = argparse.BooleanOptionalAction
    update.add_argument(
        "--require-apikey-expiration", action=flag, help="refuse keys that never expire"
    )
    update.add_argument("--max-apikey-expiration-days", type=int, metavar="DAYS", help="1-365")
    update.add_argument("--enforce-hashed-api-keys", action=flag)
    update.add_argument("--enforce-2fa", action=flag)

    org.command("delete", delete_org, "delete an organization (asks first)", "org_id")
