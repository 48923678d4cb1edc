"""Generate ``docs/metrics.md`` from the catalogue in :mod:`capgo_exporter.metrics`, and
``docs/configuration.md`` from the settings' declarations (:mod:`capgo_exporter.settings`).

python -m capgo_exporter.docsgen          # rewrite both
python -m capgo_exporter.docsgen --check  # exit 1 when a committed file is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from capgo_exporter.collectors import COLLECTORS
from capgo_exporter.metrics import CATALOGUE, MetricSpec
from capgo_exporter.settings import FORMER_ENV_NAMES, SETTINGS, default_text

DOCS = Path(__file__).resolve().parent.parent / "docs"

_INTRO = """\
# Metrics

Generated from `capgo_exporter/metrics.py` by `python -m capgo_exporter.docsgen`; do not edit.

Every Capgo figure is a gauge served from a cache that the collectors refresh in the background;
a scrape never waits for Capgo. When a collector fails, its last good values are served until
they are older than `--collector.max-age` (default: three times the collector's interval),
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


def render_metrics() -> str:
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


def render_configuration() -> str:
    lines = [
        "# Configuration",
        "",
        "Generated from the settings' declarations (`capgo_exporter/settings/model.py`) by "
        "`python -m capgo_exporter.docsgen`; do not edit.",
        "",
        "Each setting comes from, in order: its flag, its environment variable, the TOML file "
        "named by `--config.file` (keys are the field names), its default. Durations take "
        "`500ms`, `30s`, `5m`, `1h`, `1d` or a number of seconds; sizes take `5GiB`, `500MB` or "
        "a number of bytes. An invalid value stops the exporter with one line naming the "
        "setting, exit status 2. `capgo-exporter config` (or `python -m "
        "capgo_exporter.settings`) takes the same flags and prints the effective settings, the "
        "key masked.",
        "",
        "An environment variable's name is the flag's, upper-cased, dots and dashes as "
        "underscores, after `CAPGO_EXPORTER_`: `--web.listen-address` is "
        "`CAPGO_EXPORTER_WEB_LISTEN_ADDRESS`. The key settings keep the Capgo CLI's names "
        "(`CAPGO_API_KEY`, `CAPGO_API_KEY_FILE`, `CAPGO_API_URL`, then `CAPGO_TOKEN`), so one "
        "environment serves both tools. An empty variable counts as unset. An unknown "
        "`CAPGO_EXPORTER_*` variable stops the exporter, with the closest name as a "
        "suggestion; `CAPGO_EXPORTER_ARGS` (the compose file's) and the variables of "
        "Kubernetes service links (`CAPGO_EXPORTER_SERVICE_HOST`, `CAPGO_EXPORTER_PORT…`) are "
        "left alone.",
        "",
        "| flag | environment | TOML key | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for field, setting in SETTINGS.items():
        env = f"`{setting.env_name}`"
        if setting.fallback_env:
            env += f" (then `{setting.fallback_env}`)"
        toml = f"`{field}`" if setting.in_toml else "—"
        lines.append(
            f"| `{setting.flag}` | {env} | {toml} | {default_text(field)} | {setting.help} |"
        )
    lines += ["", *_former_names()]
    return "\n".join(lines) + "\n"


def _former_names() -> list[str]:
    lines = [
        "## Former environment variables",
        "",
        "These names, from before the rule above, still work: each logs a warning naming the "
        "new one. Setting a former and the new name to different values stops the exporter; "
        "rename them.",
        "",
        "| former name | new name |",
        "|---|---|",
    ]
    for old, field in FORMER_ENV_NAMES.items():
        lines.append(f"| `{old}` | `{SETTINGS[field].env_name}` |")
    return lines


GENERATED = {"metrics.md": render_metrics, "configuration.md": render_configuration}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    stale = 0
    for name, render in GENERATED.items():
        path, text = DOCS / name, render()
        if "--check" not in args:
            path.write_text(text)
        elif not path.exists() or path.read_text() != text:
            print(f"{path} is stale: run python -m capgo_exporter.docsgen", file=sys.stderr)
            stale = 1
    return stale


if __name__ == "__main__":
    sys.exit(main())
