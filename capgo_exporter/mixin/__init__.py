"""Monitoring mixin: Prometheus rules and Grafana dashboards rendered from Python.

Like the monitoring-mixins of Prometheus exporters (jsonnet there), the rules and dashboards
are code with a small configuration (selectors, thresholds, runbook location), rendered to
the files shipped in ``deploy/prometheus/`` and ``grafana/dashboards/``. The rendered files
are committed, and tests fail when they are stale. Users who need other selectors or
thresholds render their own:

    python -m capgo_exporter.mixin.rules --help
    python -m capgo_exporter.mixin.dashboards --help
"""
