"""The landing page (``/``): links, demo notice, and each collector's state.

Its documentation links point at pages the installed package serves itself (generated from the
code, so they exist wherever the exporter runs), not at a web site that may not.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from capgo_exporter import __version__
from capgo_exporter.docsgen import render_configuration, render_metrics
from capgo_exporter.settings import format_duration
from capgo_exporter.status import CollectorStatus

# Path → (title, renderer): served as Markdown by the exporter.
DOCS: dict[str, tuple[str, Callable[[], str]]] = {
    "/docs/metrics.md": ("every metric and its labels", render_metrics),
    "/docs/configuration.md": ("every flag and its default", render_configuration),
}

STYLE = (
    "body{font-family:sans-serif;margin:2em;max-width:80em}"
    "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3em .6em;text-align:left}"
    ".down{color:#b00}.demo{background:#fff3cd;border:1px solid #e0c060;padding:.5em 1em}"
)

_DEMO_NOTICE = (
    '<p class="demo"><strong>Demo mode:</strong> every figure here comes from the built-in '
    "simulated Capgo (<code>--demo</code>), not from a real account. "
    "<code>capgo_exporter_demo_mode</code> is 1.</p>"
)


def render_landing_page(
    statuses: Iterable[CollectorStatus],
    now: float,
    *,
    telemetry_path: str = "/metrics",
    demo: bool = False,
) -> str:
    rows = "".join(_collector_row(status, now) for status in statuses)
    e = html.escape
    # Relative links keep working behind a reverse proxy that adds a path prefix.
    links = [
        (telemetry_path, "the metrics"),
        ("/healthz", "liveness"),
        ("/readyz", "readiness"),
        *((path, title) for path, (title, _) in DOCS.items()),
    ]
    items = "".join(
        f'<li><a href="{e(path.lstrip("/"))}">{e(path)}</a> — {e(what)}</li>'
        for path, what in links
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>capgo-exporter{' (demo)' if demo else ''}</title>"
        f"<style>{STYLE}</style></head><body>"
        f"<h1>capgo-exporter</h1><p>Prometheus exporter for Capgo cloud, version {e(__version__)}."
        f"</p>{_DEMO_NOTICE if demo else ''}<ul>{items}</ul>"
        "<h2>Collectors</h2><table><tr><th>collector</th><th>interval</th><th>up</th>"
        "<th>last success</th><th>last duration</th><th>last error</th><th>next run</th></tr>"
        f"{rows}</table></body></html>\n"
    )


def _collector_row(status: CollectorStatus, now: float) -> str:
    if not status.finished_first_run:
        up = "pending"
    else:
        up = "yes" if status.complete else '<span class="down">no</span>'
    duration = status.last_duration_seconds
    cells = (
        html.escape(status.name),
        html.escape(format_duration(status.interval_seconds)),
        up,
        _when(status.last_success, now, "never"),
        "—" if duration is None else f"{duration:.2f} s",
        html.escape(_problem(status)),
        _when(status.next_run, now, "—"),
    )
    return "<tr>" + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _problem(status: CollectorStatus) -> str:
    stalled = "a run in progress for longer than the interval" if status.stalled else ""
    return "; ".join(text for text in (stalled, status.last_error) if text)


def _when(timestamp: float | None, now: float, missing: str) -> str:
    if timestamp is None:
        return missing
    iso = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    delta = format_duration(round(abs(now - timestamp)))
    relative = f"{delta} ago" if timestamp <= now else f"in {delta}"
    return f'<time datetime="{iso}">{iso}</time> ({relative})'
