"""The landing page's links, the telemetry path, the served docs, and demo mode made visible."""

from __future__ import annotations

import re
from wsgiref.util import setup_testing_defaults

import pytest

from capgo_exporter.docsgen import render_configuration, render_metrics
from capgo_exporter.landing import DOCS, render_landing_page
from capgo_exporter.selfmetrics import SelfMetrics
from capgo_exporter.server import ExporterApp
from capgo_exporter.settings import SettingsError, load_settings
from capgo_exporter.snapshot import SnapshotHolder

from .test_server import StubStatus, small_snapshot

NOW = 1_760_000_000.0


def get(app: ExporterApp, path: str) -> tuple[str, str, bytes]:
    environ: dict[str, object] = {"PATH_INFO": path, "REQUEST_METHOD": "GET"}
    setup_testing_defaults(environ)
    environ["PATH_INFO"] = path
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], *_: object) -> None:
        seen["status"] = status
        seen["type"] = dict(headers).get("Content-Type", "")

    body = b"".join(app(environ, start_response))  # type: ignore[arg-type]
    return seen["status"], seen["type"], body


def make_app(*, telemetry_path: str = "/metrics", demo: bool = False) -> ExporterApp:
    holder = SnapshotHolder()
    holder.current = small_snapshot()
    metrics = SelfMetrics(["devices"], process_metrics=False, demo=demo)
    return ExporterApp(holder, metrics, StubStatus(), telemetry_path=telemetry_path, demo=demo)


def test_every_landing_page_link_is_served_by_the_exporter() -> None:
    app = make_app()
    _, _, page = get(app, "/")
    links = re.findall(r'href="([^"]+)"', page.decode())
    assert "docs/metrics.md" in links
    assert "docs/configuration.md" in links
    for link in links:
        # Relative (a reverse proxy may add a prefix) and answered, not a guessed web site.
        assert not link.startswith(("http:", "https:", "/")), link
        status, _, _ = get(app, "/" + link)
        assert status.startswith("200"), (link, status)


def test_served_docs_are_the_generated_ones() -> None:
    app = make_app()
    assert get(app, "/docs/metrics.md")[2].decode() == render_metrics()
    _, content_type, body = get(app, "/docs/configuration.md")
    # Text a browser shows (text/markdown is downloaded); the Markdown reads as it is.
    assert content_type == "text/plain; charset=utf-8"
    assert body.decode() == render_configuration()
    assert set(DOCS) == {"/docs/metrics.md", "/docs/configuration.md"}


def test_the_telemetry_path_moves_the_metrics() -> None:
    app = make_app(telemetry_path="/internal/prom")
    assert get(app, "/internal/prom")[0].startswith("200")
    assert b"capgo_exporter_demo_mode 0.0" in get(app, "/internal/prom")[2]
    assert get(app, "/metrics")[0].startswith("404")
    assert 'href="internal/prom"' in get(app, "/")[2].decode()


@pytest.mark.parametrize("path", ["metrics", "/", "/healthz", "/docs/x", "/a b"])
def test_a_telemetry_path_that_cannot_work_is_refused(path: str) -> None:
    with pytest.raises(SettingsError, match=r"--web\.telemetry-path: invalid path"):
        load_settings({"telemetry_path": path}, environ={}, home=None)


def test_default_telemetry_path() -> None:
    assert load_settings(environ={}, home=None).telemetry_path == "/metrics"


def test_demo_mode_shows_on_the_page_and_in_a_gauge() -> None:
    demo, live = make_app(demo=True), make_app()
    assert b"capgo_exporter_demo_mode 1.0" in get(demo, "/metrics")[2]
    assert b"capgo_exporter_demo_mode 0.0" in get(live, "/metrics")[2]
    assert "Demo mode" in get(demo, "/")[2].decode()
    assert "Demo mode" not in get(live, "/")[2].decode()
    assert "(demo)</title>" in render_landing_page([], NOW, demo=True)
