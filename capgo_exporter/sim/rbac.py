"""RBAC-lite: role -> permissions (from Capgo's seed.sql) and what a key may do where."""

from __future__ import annotations

from dataclasses import dataclass

from capgo_exporter.sim.model import ApiKey

_ORG_ALL = frozenset(
    {
        "org.read",
        "org.read_members",
        "org.create_app",
        "org.update_settings",
        "org.invite_user",
        "org.update_user_roles",
        "org.manage_apikeys",
        "org.delete",
        "org.update_billing",
        "org.read_audit",
    }
)
_APP_ALL = frozenset(
    {
        "app.read",
        "app.read_bundles",
        "app.upload_bundle",
        "app.create_channel",
        "app.read_channels",
        "app.read_logs",
        "app.manage_devices",
        "app.read_devices",
        "app.update_settings",
        "app.delete",
        "app.transfer",
        "app.build_native",
        "app.read_audit",
        "app.manage_notifications",
    }
)
_CHANNEL_ALL = frozenset(
    {
        "channel.read",
        "channel.update_settings",
        "channel.delete",
        "channel.promote_bundle",
        "channel.rollback_bundle",
        "channel.manage_forced_devices",
        "channel.read_forced_devices",
        "channel.read_history",
        "channel.read_audit",
    }
)
_SUPER = _ORG_ALL | _APP_ALL | _CHANNEL_ALL | {"bundle.delete"}
_APP_READ = frozenset(
    {
        "app.read",
        "app.read_bundles",
        "app.read_channels",
        "app.read_logs",
        "app.read_devices",
        "app.read_audit",
    }
)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "org_super_admin": _SUPER,
    "org_admin": _SUPER
    - {
        "org.delete",
        "org.update_billing",
        "app.delete",
        "app.transfer",
        "bundle.delete",
        "channel.delete",
    },
    "org_billing_admin": frozenset({"org.read", "org.create_app", "org.update_billing"}),
    "org_member": frozenset({"org.read", "org.create_app", "org.read_members"}),
    "apikey_org_reader": frozenset({"org.read"}),
    "apikey_manager": frozenset({"org.manage_apikeys", "org.read"}),
    "app_admin": (_APP_ALL - {"app.delete", "app.transfer"}) | _CHANNEL_ALL | {"bundle.delete"},
    "app_developer": _APP_READ
    | {
        "app.upload_bundle",
        "app.create_channel",
        "app.manage_notifications",
        "app.manage_devices",
        "app.build_native",
        "channel.read",
        "channel.read_history",
        "channel.promote_bundle",
        "channel.rollback_bundle",
        "channel.manage_forced_devices",
        "channel.read_forced_devices",
        "channel.read_audit",
    },
    "app_uploader": _APP_READ | {"app.upload_bundle", "channel.read", "channel.promote_bundle"},
    "app_reader": _APP_READ
    | {"channel.read", "channel.read_history", "channel.read_forced_devices", "channel.read_audit"},
}
ORG_ROLES = frozenset(r for r in ROLE_PERMISSIONS if r.startswith(("org_", "apikey_")))
APP_ROLES = frozenset(ROLE_PERMISSIONS) - ORG_ROLES

# Legacy invite types accepted by POST /organization/members, mapped to today's org roles
# (Capgo's supabase/functions/_backend/public/organization/members/post.ts).
INVITE_ALIASES = {
    **{r: r for r in ("org_member", "org_billing_admin", "org_admin", "org_super_admin")},
    **dict.fromkeys(
        ("read", "upload", "write", "invite_read", "invite_upload", "invite_write"), "org_member"
    ),
    **dict.fromkeys(("admin", "invite_admin"), "org_admin"),
    **dict.fromkeys(("super_admin", "invite_super_admin"), "org_super_admin"),
}
# Higher rank may remove lower rank members, never the reverse.
ROLE_RANK = {"org_member": 1, "org_billing_admin": 2, "org_admin": 3, "org_super_admin": 4}


@dataclass(frozen=True)
class Principal:
    """The authenticated API key of a request."""

    key: ApiKey

    def can(self, permission: str, org_id: str, app_uuid: str | None = None) -> bool:
        for binding in self.key.bindings:
            if binding.org_id != org_id:
                continue
            if binding.app_id is not None and binding.app_id != app_uuid:
                continue
            if permission in ROLE_PERMISSIONS.get(binding.role, frozenset()):
                return True
        return False
