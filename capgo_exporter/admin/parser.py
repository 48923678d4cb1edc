"""The ``admin`` part of the ``capgo-exporter`` parser: resources, actions, common options."""

from __future__ import annotations

import argparse

from capgo_exporter.admin import (
    apikeys,
    apps,
    bundles,
    channels,
    devices,
    events,
    members,
    orgs,
    stats,
)
from capgo_exporter.admin.group import Group, command

_RESOURCES = (orgs, members, apikeys, apps, channels, devices, bundles, stats)
# Resources that are one command, without an action.
_COMMANDS = (events,)

# The daemon settings an admin command uses, offered as flags after `admin` too (every one is
# also read from its environment variable and the config file, as for the daemon).
SETTINGS = (
    "api_key",
    "api_key_file",
    "api_url",
    "requests_per_minute",
    "request_timeout",
    "connect_timeout",
    "max_retries",
    "device_page_size",
    "billing_cycle_start_day",
    "org_plans",
    "log_level",
    "clock_start",
    "config_file",
)


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    options = common.add_argument_group("common options")
    options.add_argument(
        "-o",
        "--output",
        choices=("table", "json"),
        help="table on a terminal, json otherwise (lists: one JSON object per line)",
    )
    # SUPPRESS: without it, --json's default would undo an -o given before it.
    options.add_argument(
        "--json",
        dest="output",
        action="store_const",
        const="json",
        default=argparse.SUPPRESS,
        help="same as -o json",
    )
    options.add_argument(
        "--dry-run",
        action="store_true",
        help="print the request (method, URL, JSON body; never the key) and send nothing",
    )
    options.add_argument(
        "-y",
        "--yes",
        action="store_true",
        help="do not ask before deleting (needed off a terminal)",
    )
    # SUPPRESS: given before `admin` or here, either works; not given here must not undo it.
    options.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS,
        help="act on a fresh in-process simulated Capgo (no key needed; changes are not kept)",
    )
    return common


def add_admin_commands(admin: argparse.ArgumentParser) -> None:
    common = _common_options()
    resources = admin.add_subparsers(dest="resource", metavar="RESOURCE", required=True)
    for module in _RESOURCES:
        module.register(lambda name, help: Group(resources, name, help, common))
    for single in _COMMANDS:
        single.register_command(
            lambda name, handler, help: command(resources, common, name, handler, help)
        )
