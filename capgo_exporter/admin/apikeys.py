"""``admin apikey list | get | create | update | delete`` (``/apikey``).

Capgo lets a key manage other keys of the orgs it manages (org_admin, org_super_admin,
apikey_manager) but never create one: that needs a console login, which this tool does not
have. ``create`` is kept for self-hosted or future servers and explains the refusal in one line.
A new or regenerated key is printed once, as Capgo returns it only then.
"""

from __future__ import annotations

import argparse
from typing import Any

from capgo_exporter.admin.context import CommandError, Context, UsageError
from capgo_exporter.admin.group import GroupFactory
from capgo_exporter.admin.output import Column, plain
from capgo_exporter.admin.values import moment
from capgo_exporter.api import BadRequestError
from capgo_exporter.api.models import ApiKey

COLUMNS = (
    Column("ID", "id"),
    Column("NAME", "name"),
    Column("EXPIRES", "expires_at", "date"),
    Column("HASHED", "is_hashed_key"),
    Column("GLOBAL_PERMISSIONS", "global_permissions"),
)
FIELDS = ("id", "name", "expires_at", "is_hashed_key", "global_permissions", "created_at")
ROLES = ("org_super_admin", "org_admin", "org_member", "apikey_manager", "org_billing_admin")
APP_ROLES = ("app_admin", "app_developer", "app_uploader", "app_reader")


def shown(key: ApiKey) -> dict[str, Any]:
    """The key's fields; its secret only when Capgo just returned it (creation, regeneration)."""
    doc = plain(key)
    doc.pop("key", None)
    if key.key is not None:
        doc["key"] = key.key.get_secret_value()
    return doc


def _explain_refusal(error: BadRequestError) -> CommandError:
    where = f" (request id {error.request_id})" if error.request_id else ""
    return CommandError(
        "Capgo never lets an API key create API keys: creating one needs a console login. "
        "Create it at console.capgo.app (API keys), then manage it here with "
        f"`admin apikey update|delete`{where}"
    )


async def list_keys(ctx: Context, args: argparse.Namespace) -> None:
    keys = await ctx.capgo.apikeys.list()
    await ctx.out.rows((shown(k) for k in keys), COLUMNS, "API keys")


async def get_key(ctx: Context, args: argparse.Namespace) -> None:
    ctx.out.document(shown(await ctx.capgo.apikeys.get(args.key_id)), FIELDS)


async def create_key(ctx: Context, args: argparse.Namespace) -> None:
    binding = {
        "role_name": args.role,
        "scope_type": "app" if args.app_uuid else "org",
        "org_id": args.org_id,
    }
    if args.app_uuid:
        binding["app_id"] = args.app_uuid
    try:
        key = await ctx.capgo.apikeys.create(
            args.name,
            bindings=[binding],
            hashed=args.hashed,
            expires_at=args.expires_at,
            global_permissions=["org.create"] if args.org_create else None,
        )
    except BadRequestError as error:
        if error.code == "cannot_create_apikey":
            raise _explain_refusal(error) from None
        raise
    doc = shown(key)
    ctx.out.done(f"created API key {key.id}; store it now, it is shown once: {doc.get('key')}", doc)


async def update_key(ctx: Context, args: argparse.Namespace) -> None:
    changes: dict[str, Any] = {}
    if args.name is not None:
        changes["name"] = args.name
    if args.no_expiry:
        changes["expires_at"] = None
    elif args.expires_at is not None:
        changes["expires_at"] = args.expires_at
    if args.regenerate:
        ctx.confirm(f"regenerate API key {args.key_id} (its current value stops working at once)")
        changes["regenerate"] = True
    if not changes:
        raise UsageError(
            "apikey update: nothing to change — "
            "give --name, --expires-at, --no-expiry or --regenerate"
        )
    key = await ctx.capgo.apikeys.update(args.key_id, **changes)
    doc = shown(key)
    message = f"updated API key {key.id}"
    if "key" in doc:
        message += f"; new value, shown once: {doc['key']}"
    ctx.out.done(message, doc)


async def delete_key(ctx: Context, args: argparse.Namespace) -> None:
    ctx.confirm(f"delete API key {args.key_id}")
    answer = await ctx.capgo.apikeys.delete(args.key_id)
    ctx.out.done(f"deleted API key {args.key_id}", plain(answer))


def register(group: GroupFactory) -> None:
    apikey = group(
        "apikey", "API keys (needs a key with org_admin, org_super_admin or apikey_manager)"
    )
    apikey.command("list", list_keys, "list the keys this key may manage")
    apikey.command("get", get_key, "show one key", "key_id")

    create = apikey.command(
        "create", create_key, "create a key (Capgo requires a console login)", "name"
    )
    create.add_argument(
        "--org-id", required=True, metavar="ORG_ID", help="organization of the binding"
    )
    create.add_argument("--role", choices=ROLES + APP_ROLES, default="org_member")
    create.add_argument("--app-uuid", metavar="APP_UUID", help="bind to this app (its UUID `id`)")
    create.add_argument("--hashed", action="store_true", help="store only a hash of the key")
    create.add_argument("--expires-at", type=moment, metavar="TIME")
    create.add_argument("--org-create", action="store_true", help="may create organizations")

    update = apikey.command(
        "update", update_key, "rename, change the expiry, or regenerate a key", "key_id"
    )
    update.add_argument("--name")
    expiry = update.add_mutually_exclusive_group()
    expiry.add_argument("--expires-at", type=moment, metavar="TIME", help="ISO date or time")
    expiry.add_argument("--no-expiry", action="store_true", help="the key never expires")
    update.add_argument(
        "--regenerate",
        action="store_true",
        help="new value, printed once; the old one stops working (asks first)",
    )

    apikey.command("delete", delete_key, "delete a key (asks first)", "key_id")
