"""The default date range of the statistics commands comes from the context's pinned clock."""

import argparse
import io
from datetime import date

import pytest
from pydantic import SecretStr

from capgo_exporter.admin.context import Context, UsageError
from capgo_exporter.admin.output import Output
from capgo_exporter.admin.stats import _range
from capgo_exporter.api import CapgoClient, ClientOptions
from capgo_exporter.settings import load_settings


def context(today: date, start_day: int = 1) -> Context:
    settings = load_settings({"billing_cycle_start_day": start_day}, environ={}, home=None)
    client = CapgoClient.create(
        ClientOptions(api_key=SecretStr("k"), base_url="http://127.0.0.1:9")
    )
    out = Output("json", io.StringIO(), io.StringIO())
    return Context(client, out, settings, yes=False, dry_run=False, today=lambda: today)


def args(start: date | None = None, to: date | None = None) -> argparse.Namespace:
    return argparse.Namespace(start=start, to=to)


@pytest.mark.parametrize(
    ("today", "start_day", "expected"),
    [
        (date(2026, 3, 15), 1, (date(2026, 3, 1), date(2026, 3, 15))),
        (date(2026, 3, 1), 1, (date(2026, 3, 1), date(2026, 3, 1))),
        (date(2026, 3, 9), 10, (date(2026, 2, 10), date(2026, 3, 9))),
    ],
)
def test_default_range_is_the_cycle_so_far(
    today: date, start_day: int, expected: tuple[date, date]
) -> None:
    assert _range(context(today, start_day), args()) == expected


def test_a_range_ending_before_it_starts_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="is before"):
        _range(context(date(2026, 3, 15)), args(to=date(2026, 2, 1)))
