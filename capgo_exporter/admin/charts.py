"""``stats --graph``: draw a statistics series as SVG, locally.

Capgo's ``graph`` parameter that returned an SVG is gone from the server, so the chart is drawn
here with matplotlib, an optional extra (``pip install 'capgo-exporter[charts]'``): the admin
commands and the exporter do not need it. Text stays text in the SVG (``svg.fonttype: none``)
and the series' line carries the id ``series-<metric>``, so the file is searchable and testable.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from capgo_exporter.admin.context import UsageError
from capgo_exporter.api.models import StatsRow

METRICS = ("mau", "storage", "bandwidth")
INSTALL_HINT = "--graph needs the charts extra: pip install 'capgo-exporter[charts]'"


def require() -> None:
    """Fail before any request when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise UsageError(INSTALL_HINT) from None


def human_bytes(value: float) -> str:
    if abs(value) < 1000:
        return f"{value:.0f} B"
    for unit in ("kB", "MB", "GB"):
        value /= 1000
        if abs(value) < 1000:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} TB"


def draw(rows: Sequence[StatsRow], metric: str, out: Path, title: str) -> None:
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    figure = Figure(figsize=(9, 4), layout="constrained")
    axes = figure.subplots()
    # matplotlib plots datetimes through its unit converters; its stubs only list numbers.
    days: Any = [row.date for row in rows]
    (line,) = axes.plot(
        days,
        [getattr(row, metric) for row in rows],
        marker="o",
        label=metric,
    )
    line.set_gid(f"series-{metric}")
    if metric != "mau":
        axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _: human_bytes(value)))
    axes.set_title(title)
    axes.grid(alpha=0.3)
    axes.legend()
    for label in axes.get_xticklabels():
        label.set_rotation(30)
    try:
        with rc_context({"svg.fonttype": "none", "svg.hashsalt": "capgo-exporter"}):
            figure.savefig(out, format="svg", metadata={"Date": None})
    except OSError as error:
        raise UsageError(f"--out: cannot write {str(out)!r}: {error.strerror}") from None
