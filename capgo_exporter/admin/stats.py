"""``admin stats app | org | user`` (``/statistics``), with ``--graph`` drawn locally.

Dates are days, both ends included: ``--to`` is the last day shown (Capgo's ``to`` is exclusive,
so the day after is sent). By default the range is the current billing cycle up to today and
values are cumulative from ``--from``, as Capgo serves them; ``--daily`` asks for per-day values.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from pathlib import Path

from capgo_exporter.admin import charts
from capgo_exporter.admin.context import Context, UsageError
from capgo_exporter.admin.group import GroupFactory
from capgo_exporter.admin.output import Column, plain
from capgo_exporter.admin.values import day
from capgo_exporter.api.models import StatsRow
from capgo_exporter.collect.statistics import billing_cycle_start
from capgo_exporter.settings.plan_lookup import plan_for

COLUMNS = (
    Column("DATE", "date"),
    Column("MAU", "mau"),
    Column("STORAGE", "storage", "bytes"),
    Column("BANDWIDTH", "bandwidth", "bytes"),
    Column("BUILD_SECONDS", "build_time_seconds"),
)


def _range(ctx: Context, args: argparse.Namespace) -> tuple[date, date]:
    today = ctx.today()
    # An organization's own cycle day when org_plans gives one (by its id here).
    start_day = plan_for(ctx.settings, getattr(args, "org_id", None) or "").billing_cycle_start_day
    start = args.start or billing_cycle_start(today, start_day)
    last = args.to or today
    if last < start:
        raise UsageError(f"--to {last} is before --from {start}")
    return start, last


def _check_graph(args: argparse.Namespace) -> None:
    if (args.graph is None) != (args.out is None):
        raise UsageError("--graph and --out go together: --graph mau --out mau.svg")
    if args.graph is not None:
        charts.require()


# (from, to) → rows: one of the client's statistics calls, its subject and --daily bound.
Fetch = Callable[[date, date], Awaitable[list[StatsRow]]]


async def _stats(ctx: Context, args: argparse.Namespace, subject: str, fetch: Fetch) -> None:
    _check_graph(args)
    start, last = _range(ctx, args)
    rows = await fetch(start, last + timedelta(days=1))
    await ctx.out.rows(
        ({**plain(r), "date": r.date.date().isoformat()} for r in rows), COLUMNS, "statistics rows"
    )
    if args.graph is not None:
        kind = "per day" if args.daily else f"cumulative from {start}"
        charts.draw(rows, args.graph, args.out, f"{subject} — {args.graph}, {kind} (to {last})")
        ctx.out.note(f"wrote {args.out}")


async def app_stats(ctx: Context, args: argparse.Namespace) -> None:
    await _stats(
        ctx,
        args,
        args.app_id,
        lambda start, end: ctx.capgo.statistics.app(args.app_id, start, end, daily=args.daily),
    )


async def org_stats(ctx: Context, args: argparse.Namespace) -> None:
    await _stats(
        ctx,
        args,
        f"organization {args.org_id}",
        lambda start, end: ctx.capgo.statistics.org(args.org_id, start, end, daily=args.daily),
    )


async def user_stats(ctx: Context, args: argparse.Namespace) -> None:
    await _stats(
        ctx,
        args,
        "everything this key reaches",
        lambda start, end: ctx.capgo.statistics.user(start, end, daily=args.daily),
    )


def _range_flags(leaf: argparse.ArgumentParser) -> None:
    leaf.add_argument(
        "--from",
        dest="start",
        type=day,
        metavar="DATE",
        help="first day (default: billing-cycle start)",
    )
    leaf.add_argument("--to", type=day, metavar="DATE", help="last day, included (default: today)")
    leaf.add_argument("--daily", action="store_true", help="per-day values instead of cumulative")
    leaf.add_argument("--graph", choices=charts.METRICS, help="also draw this series as SVG")
    leaf.add_argument("--out", type=Path, metavar="FILE.svg", help="where --graph writes")


def register(group: GroupFactory) -> None:
    stats = group("stats", "usage statistics: MAU, storage, bandwidth, build time")
    app = stats.command("app", app_stats, "one app, per day", "app_id")
    org = stats.command("org", org_stats, "one organization (its apps summed), per day", "org_id")
    user = stats.command("user", user_stats, "everything the key reaches, per day")
    for leaf in (app, org, user):
        _range_flags(leaf)
