"""``admin members list | invite | remove`` (``/organization/members``)."""

from __future__ import annotations

import argparse

from capgo_exporter.admin.context import Context
from capgo_exporter.admin.group import GroupFactory
from capgo_exporter.admin.output import Column, plain

COLUMNS = (
    Column("EMAIL", "email"),
    Column("ROLE", "role"),
    Column("PENDING", "is_tmp"),
    Column("UID", "uid"),
)
ROLES = ("org_member", "org_billing_admin", "org_admin", "org_super_admin")


async def list_members(ctx: Context, args: argparse.Namespace) -> None:
    members = await ctx.capgo.members.list(args.org_id)
    await ctx.out.rows((plain(m) for m in members), COLUMNS, "members")


async def invite(ctx: Context, args: argparse.Namespace) -> None:
    answer = await ctx.capgo.members.invite(args.org_id, args.email, args.role)
    ctx.out.done(f"invited {args.email} to {args.org_id} as {args.role}", plain(answer))


async def remove(ctx: Context, args: argparse.Namespace) -> None:
    ctx.confirm(f"remove {args.email} from organization {args.org_id}")
    answer = await ctx.capgo.members.remove(args.org_id, args.email)
    ctx.out.done(f"removed {args.email} from {args.org_id}", plain(answer))


def register(group: GroupFactory) -> None:
    members = group("members", "organization members and invitations")
    members.command("list", list_members, "members and pending invitations", "org_id")
    add = members.command("invite", invite, "invite a registered Capgo user", "org_id", "email")
    add.add_argument("--role", choices=ROLES, default="org_member")
    members.command("remove", remove, "remove a member (asks first)", "org_id", "email")
