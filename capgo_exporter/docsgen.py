"""Generate ``docs/metrics.md`` from the catalogue in :mod:`capgo_exporter.metrics`, and
``docs/configuration.md`` from :mod:`capgo_exporter.settings`.

python -m capgo_exporter.docsgen          # rewrite both
python -m capgo_exporter.docsgen --check  # exit 1 when a committed file is stale
"""

from __future__ import annotations

import sys
from pathlib import Path

from capgo_exporter.collectors import COLLECTORS, REGISTRY
from capgo_exporter.metrics import CATALOGUE, MetricSpec
from capgo_exporter.settings import ENV_NAMES, FLAG_NAMES, Settings, format_duration

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


MEANINGS: dict[str, str] = {
    "api_key": "The Capgo API key. Prefer the environment or a file: a flag is visible to every "
    "local user. Also read from `CAPGO_TOKEN` and `~/.capgo`, like the Capgo CLI.",
    "api_key_file": "A file holding the key (Docker and Kubernetes secrets).",
    "api_url": "Capgo's API: change it for a self-hosted Capgo or the simulator.",
    "listen_address": "Where `/metrics`, `/`, `/healthz` and `/readyz` are served: `host:port` or "
    "`:port` for every interface.",
    "web_config_file": "TLS, client certificates and basic auth, in the Prometheus "
    "exporter-toolkit format (see below).",
    "telemetry_path": "The path the metrics are served on.",
    "web_max_connections": "Open HTTP connections at most; more are closed at once, before "
    "any thread is started for them. Idle kept-alive connections count until their timeout.",
    "log_level": "`debug` (every API request), `info`, `warn` (or `warning`) or `error`.",
    "log_format": "`logfmt`, `json` for log collectors, or `console` (coloured on a terminal).",
    "collectors": "Collectors to run, comma-separated: "
    + ", ".join(f"`{name}`" for name in COLLECTORS)
    + ".",
    **{
        spec.interval_field: f"How often {spec.polls} are polled (at least 10s)."
        for spec in REGISTRY.values()
    },
    "devices_full_resync_interval": "How often every device is walked again, which also drops "
    "devices Capgo forgot.",
    "max_age": "Age past which a collector's last values stop being served, failing or still "
    "running, and its collector_up and capgo_up go to 0 (default: three times its interval).",
    "requests_per_minute": "The request budget shared by all collectors (a token bucket).",
    "concurrency": "Requests in flight at most.",
    "request_timeout": "Timeout of one request to Capgo.",
    "connect_timeout": "Timeout of connecting to Capgo.",
    "max_retries": "Retries of a failed GET (5xx, timeout, connection error, 429).",
    "orgs_allow": "Only these organization ids (comma-separated); empty: all.",
    "orgs_deny": "Never these organization ids.",
    "apps_allow": "Only these app ids; globs like `com.acme.*` work.",
    "apps_deny": "Never these app ids (globs work).",
    "max_bundles_per_app": "Bundles per app with their own `capgo_app_devices` series; the rest "
    'fold into `bundle="other"`.',
    "native_versions_per_app": "Native builds per app with their own "
    '`capgo_app_devices_by_native_version` series; the rest fold into `native_version="other"` '
    "per platform.",
    "plugin_versions_per_app": "Updater plugin versions per app with their own "
    '`capgo_app_devices_by_plugin_version` series; the rest fold into `plugin_version="other"`.',
    "bundles_per_app": "Newest bundles per app exposed with their creation time.",
    "device_page_size": (
        "Devices per request. Unset: 50,000, lowered to 999 (and remembered in the state"
        " directory) where Capgo's storage cuts pages at 1,000. Set: always this size."
    ),
    "events_days": "Window of the `capgo_*events*` figures in whole UTC days ending today: "
    "1 (today so far), 3, 7 (like Capgo's log insights page) or 30.",
    "billing_cycle_start_day": "Day of the month your billing cycle starts (UTC).",
    "plan_mau_limit": "Your plan's MAU limit: enables `capgo_org_monthly_active_users_limit` "
    "and the MAU alerts.",
    "plan_storage_limit_bytes": "Your plan's storage, e.g. `5GiB`.",
    "plan_bandwidth_limit_bytes": "Your plan's bandwidth per cycle, e.g. `50GiB`.",
    "state_dir": "Where the device index is kept across restarts (in memory when unset).",
    "clock_start": "Run the exporter's clock from this instant (ISO 8601, e.g. "
    "`2026-12-05T12:00:00Z`) instead of now; it runs on at real speed. With `--demo` the "
    "simulated Capgo shares it, to see the demo on any day. Only with `--demo` or a Capgo on "
    "loopback (a simulator): against the real Capgo it is refused.",
    "config_file": "A TOML file with any of these settings by their field name.",
}


def default_text(field: str) -> str:
    """The default as a person writes it: ``15m``, not ``900.0``; ``—`` when there is none."""
    value = Settings.model_fields[field].default
    if value is None:
        return "—"
    if isinstance(value, float):  # every float setting is a duration
        return f"`{format_duration(value)}`"
    if isinstance(value, tuple):
        return f"`{','.join(value)}`" if value else "—"
    return f"`{value}`"


def render_configuration() -> str:
    lines = [
        "# Configuration",
        "",
        "Generated from `capgo_exporter/settings.py` by `python -m capgo_exporter.docsgen`; do "
        "not edit.",
        "",
        "Each setting comes from, in order: its flag, its environment variable, the TOML file "
        "named by `--config.file` (keys are the field names), its default. Durations take "
        "`500ms`, `30s`, `5m`, `1h`, `1d` or a number of seconds; sizes take `5GiB`, `500MB` or "
        "a number of bytes. An invalid value stops the exporter with one line naming the "
        "setting, exit status 2. `python -m capgo_exporter.settings` prints the effective "
        "settings (the key masked).",
        "",
        "| flag | environment | TOML key | default | meaning |",
        "|---|---|---|---|---|",
    ]
    for field, flag in FLAG_NAMES.items():
        env = ENV_NAMES[field]
        lines.append(
            f"| `{flag}` | `{env}` | `{field}` | {default_text(field)} | {MEANINGS[field]} |"
        )
    return "\n".join(lines) + "\n"


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
