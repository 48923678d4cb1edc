"""``admin events APP_ID [--days N] [--actions …]`` (``POST /private/stats/insights``).

What the console's "Log insights" page shows for one app: device events per action, per
(action, bundle) pair and per day, over the last 1, 3, 7 or 30 whole UTC days (today included).
Without ``--actions`` Capgo counts its default failure list (failed downloads and updates,
crashes, webview errors); ``--actions set`` counts installs. Read-only: nothing to confirm.

JSON is one line, one object: Capgo's answer (the fields the exporter reads, with Capgo's
names: ``versions`` are the (action, bundle) pairs) plus ``app_id``. The table shows the same in
four parts: summary, actions, bundles, and one row per day of the window.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from capgo_exporter.admin.context import CommandError, Context, UsageError
from capgo_exporter.admin.group import CommandFactory
from capgo_exporter.admin.output import align, cell, plain
from capgo_exporter.admin.runner import api_error_line
from capgo_exporter.api import BadRequestError, CapgoAPIError, NotFoundError
from capgo_exporter.api.insights import ALLOWED_DAYS, Insight

HINT_DENIED = (
    "the key needs app.read_logs on {app_id} (any app role has it), and the app must exist"
)
HINT_GONE = "Capgo no longer serves this private route; upgrade capgo-exporter"
ACTION_HEADER = ("ACTION", "EVENTS", "DEVICES", "BUNDLES", "LATEST_BUNDLE")
BUNDLE_HEADER = ("BUNDLE", "ACTION", "EVENTS", "DEVICES")
NO_EVENTS = "no events of these actions in the window (fleets that send no statistics report none)"


def window_days(text: str) -> int:
    """``--days``: one of the windows Capgo serves."""
    if text.strip() not in {str(days) for days in ALLOWED_DAYS}:
        raise argparse.ArgumentTypeError(f"invalid window {text!r}: use 1, 3, 7 or 30 (days)")
    return int(text)


def action_list(text: str) -> list[str]:
    """``set,app_crash`` → two actions; empty items are a mistake, not ``all``."""
    actions = [part.strip() for part in text.split(",")]
    if not all(actions):
        raise argparse.ArgumentTypeError(f"invalid action list {text!r}: an empty name")
    return actions


def app_of(args: argparse.Namespace) -> str:
    """APP_ID, or the older ``--app-id``: one of them, or both the same."""
    given: set[str] = {name for name in (args.app_id, args.app_id_option) if name}
    if len(given) != 1:
        problem = "give APP_ID" if not given else "APP_ID and --app-id differ"
        raise UsageError(f"events: {problem} (one app)")
    return given.pop()


async def show_events(ctx: Context, args: argparse.Namespace) -> None:
    args.app_id = app_of(args)
    actions = list(dict.fromkeys(args.actions or ()))  # the order given, each once
    try:
        insight = await ctx.capgo.insights.app(args.app_id, days=args.days, actions=actions)
    except CapgoAPIError as error:
        raise _explained(error, args.app_id, actions) from None
    doc = {"app_id": args.app_id, **plain(insight)}
    if ctx.out.format == "json":
        ctx.out.document(doc)
    else:
        ctx.out.stdout.write(table(args.app_id, insight))


def _explained(error: CapgoAPIError, app_id: str, actions: Sequence[str]) -> Exception:
    """Capgo's refusal in our words: what was wrong and what to do."""
    line = api_error_line(error)
    if error.code == "app_access_denied":
        return CommandError(f"{line}; {HINT_DENIED.format(app_id=app_id)}")
    if isinstance(error, NotFoundError):
        return CommandError(f"{line}; {HINT_GONE}")
    if isinstance(error, BadRequestError) and error.code == "invalid_body" and actions:
        # The only free text we send is the action list: Capgo knows no such action.
        detail = _schema_issue(error) or error.message
        return UsageError(f"--actions {','.join(actions)}: not actions Capgo counts ({detail})")
    return error


def _schema_issue(error: CapgoAPIError) -> str | None:
    """The first validation issue Capgo lists (``Invalid enum value 'sett'``), if any."""
    raw = error.more_info.get("error")
    try:
        issues = json.loads(raw)["issues"] if isinstance(raw, str) else []
        message = issues[0]["message"]
    except (ValueError, LookupError, TypeError):
        return None
    return message if isinstance(message, str) else None


def table(app_id: str, insight: Insight) -> str:
    """The four parts, blank-line separated; an empty part says so instead of a bare header."""
    period = insight.period
    first, last = (period.labels[0], period.labels[-1]) if period.labels else ("-", "-")
    summary = [
        ["app", app_id],
        ["window", f"{period.requested_days} days, {first} to {last} (UTC)"],
        ["events", str(insight.summary.total)],
        ["devices", str(insight.summary.device_count)],
        ["actions", str(insight.summary.action_count)],
    ]
    actions = [
        [a.action, a.total, a.device_count, a.version_count, a.latest_version_name]
        for a in insight.actions
    ]
    bundles = [[v.version_name, v.action, v.total, v.device_count] for v in insight.versions]
    return (
        "\n\n".join(
            (
                "\n".join(align(summary)),
                _part(ACTION_HEADER, actions, NO_EVENTS),
                _part(BUNDLE_HEADER, bundles, "no bundle reported these actions"),
                _daily(insight),
            )
        )
        + "\n"
    )


def _part(header: Sequence[str], rows: list[list[Any]], empty: str) -> str:
    if not rows:
        return empty
    return "\n".join(align([list(header), *([cell(value) for value in row] for row in rows)]))


def _daily(insight: Insight) -> str:
    """One row per day of the window (days without events too), one column per action."""
    named = [a.action for a in insight.actions] + [d.action for d in insight.daily]
    actions = list(dict.fromkeys(named))
    totals: dict[tuple[str, str], int] = {}
    for row in insight.daily:
        totals[(row.date, row.action)] = totals.get((row.date, row.action), 0) + row.total
    days = dict.fromkeys([*insight.period.labels, *(row.date for row in insight.daily)])
    rows = []
    for day in days:
        counts = [totals.get((day, action), 0) for action in actions]
        rows.append([day, sum(counts), *counts])
    return _part(["DATE", "EVENTS", *actions], rows, "no day in the window")


def register_command(add: CommandFactory) -> None:
    leaf = add("events", show_events, "device events per action, bundle and day (Log insights)")
    leaf.add_argument("app_id", nargs="?", metavar="APP_ID", help="the app")
    # The form this command had first; every other command takes APP_ID as an operand.
    leaf.add_argument("--app-id", dest="app_id_option", metavar="APP_ID", help="same as APP_ID")
    leaf.add_argument(
        "--days",
        type=window_days,
        default=7,
        metavar="{1,3,7,30}",
        help="whole UTC days ending today, today included (default: %(default)s)",
    )
    leaf.add_argument(
        "--actions",
        type=action_list,
        action="extend",
        metavar="ACTION[,ACTION…]",
        help="Capgo stats actions to count, e.g. set,app_crash (default: Capgo's failure list)",
    )
