"""Generate ``docs/metrics.md`` from the catalogue in :mod:`capgo_exporter.metrics`.

python -m capgo_exporter.metricsdoc          # rewrite docs/metrics.md
python -m capgo_exporter.metricsdoc --check  # exit 1 when the committed file is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from capgo_exporter.metrics import CATALOGUE, COLLECTORS, MetricSpec

DOC = Path(__file__).resolve().parent.parent / "docs" / "metrics.md"

_INTRO = """\
# Metrics

Generated from `capgo_exporter/metrics.py` by `python -m capgo_exporter.metricsdoc`; do not edit.

Every Capgo figure is a gauge served from a cache that the collectors refresh in the background;
a scrape never waits for Capgo. When a collector fails, its last good values are served until
they are older than `CAPGO_EXPORTER_MAX_AGE` (default: three times the collector's interval),
then they disappear; `capgo_exporter_collector_up` and `capgo_up` show the failure at once.
Series of apps, channels and bundles that are gone disappear on the next run.

Label values come from the API as they are (`platform` is ios, android or electron; `bundle` is
the bundle's `version_name`); booleans are `true`/`false`, missing values `unknown`. No label
ever holds a device id, an email address or a date.
"""


def _row(spec: MetricSpec) -> str:
    labels = ", ".join(f"`{label}`" for label in spec.labels) or "—"
    help_text = spec.help.replace("|", "\\|")
    return f"| `{spec.name}` | {spec.type} | {labels} | {help_text} |"


def render() -> str:
    sections = [_INTRO]
    groups: list[tuple[str, str | None]] = [
        *((f"Collector `{name}`", name) for name in COLLECTORS),
        ("The exporter itself", None),
    ]
    for title, collector in groups:
        specs = [s for s in CATALOGUE if s.collector == collector]
        lines = [f"## {title}", "", "| metric | type | labels | meaning |", "|---|---|---|---|"]
        lines += [_row(spec) for spec in specs]
        sections.append("\n".join(lines) + "\n")
    sections.append(
        "Process metrics (`process_*`: CPU, memory, open files, start time) come from "
        "prometheus-client's process collector.\n"
    )
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--check" in args:
        if not DOC.exists() or DOC.read_text() != text:
            print(f"{DOC} is stale: run python -m capgo_exporter.metricsdoc", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
