"""The live self-metrics: pre-initialised at zero, never stale despite the render cache, and
each collector's max age as the exporter uses it."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client import CollectorRegistry, Counter

from capgo_exporter.collectors import COLLECTORS, REGISTRY
from capgo_exporter.daemon import exporter
from capgo_exporter.selfmetrics import EXPORTER_ENDPOINTS, RETRY_REASONS, SelfMetrics
from capgo_exporter.settings import load_settings

NO_CAPGO = {"api_key": "k", "api_url": "http://127.0.0.1:9"}


def sample(metrics: SelfMetrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_known_series_start_at_zero() -> None:
    metrics = SelfMetrics(["inventory", "devices"], process_metrics=False)
    assert sample(metrics, "capgo_up") == 0
    assert sample(metrics, "capgo_exporter_collector_up", collector="devices") == 0
    for endpoint in EXPORTER_ENDPOINTS:
        assert (
            sample(metrics, "capgo_exporter_api_request_duration_seconds_count", endpoint=endpoint)
            == 0
        )
        for reason in RETRY_REASONS:
            assert (
                sample(
                    metrics, "capgo_exporter_api_retries_total", endpoint=endpoint, reason=reason
                )
                == 0
            )


@pytest.mark.parametrize("openmetrics", [False, True])
def test_every_change_shows_in_the_next_render(openmetrics: bool) -> None:
    metrics = SelfMetrics(["inventory"])
    first = metrics.render(openmetrics=openmetrics)
    assert metrics.render(openmetrics=openmetrics).startswith(first.split(b"# HELP process")[0])
    metrics.request_finished("/device", "200", 0.2)
    assert (
        b'capgo_exporter_api_requests_total{code="200",endpoint="/device"} 1.0'
        in metrics.render(openmetrics=openmetrics)
    )
    metrics.request_retried("/device", "timeout")
    assert b'endpoint="/device",reason="timeout"} 1.0' in metrics.render(openmetrics=openmetrics)
    metrics.collector_finished("inventory", succeeded=True, seconds=1.5, finished_at=1.8e9)
    metrics.set_up(True)
    body = metrics.render(openmetrics=openmetrics)
    assert b'capgo_exporter_collector_up{collector="inventory"} 1.0' in body
    assert b"capgo_up 1.0" in body
    metrics.collector_finished("inventory", succeeded=False, seconds=0.5, finished_at=1.9e9)
    body = metrics.render(openmetrics=openmetrics)
    assert b'capgo_exporter_collector_up{collector="inventory"} 0.0' in body
    # The last success stays at the previous success.
    assert (
        b'capgo_exporter_collector_last_success_timestamp_seconds{collector="inventory"} 1.8e+09'
        in body
    )
    # Process metrics are rendered every time, after the cached part; OpenMetrics ends once.
    assert b"process_cpu_seconds_total" in body
    if openmetrics:
        assert body.endswith(b"# EOF\n")
        assert body.count(b"# EOF") == 1


@pytest.mark.parametrize("openmetrics", [False, True])
def test_no_created_series_and_no_process_wide_switch(openmetrics: bool) -> None:
    """Counters and histograms render without their _created sample, and client_python's
    own setting is left as it was for other registries in the process."""
    metrics = SelfMetrics(["inventory"], process_metrics=False)
    metrics.request_finished("/device", "200", 0.2)
    metrics.request_retried("/device", "timeout")
    body = metrics.render(openmetrics=openmetrics)
    assert b"capgo_exporter_api_requests_total{" in body
    assert b"capgo_exporter_api_request_duration_seconds_count{" in body
    assert b"_created" not in body
    other = CollectorRegistry()
    Counter("other_total", "Another registry's counter.", registry=other).inc()
    assert other.get_sample_value("other_created") is not None


def test_each_collectors_max_age_is_published_as_given() -> None:
    ages = {"inventory": 900.0, "devices": 7200.0}
    metrics = SelfMetrics(ages, process_metrics=False, max_age_for=ages.__getitem__)
    published = {
        name: sample(metrics, "capgo_exporter_collector_max_age_seconds", collector=name)
        for name in ages
    }
    assert published == ages
    without = SelfMetrics(["inventory"], process_metrics=False)
    assert b"capgo_exporter_collector_max_age_seconds{" not in without.render()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # Three intervals each, unless --collector.max-age is set.
        (
            {"collectors": ",".join(COLLECTORS)},
            {n: 3 * REGISTRY[n].default_interval for n in REGISTRY},
        ),
        ({"collectors": COLLECTORS[0], "max_age": "2h"}, {COLLECTORS[0]: 7200.0}),
        (
            {"collectors": COLLECTORS[-1], REGISTRY[COLLECTORS[-1]].interval_field: "20m"},
            {COLLECTORS[-1]: 3600.0},
        ),
    ],
)
async def test_the_exporter_publishes_the_max_age_it_uses_for_each_enabled_collector(
    values: dict[str, str], expected: dict[str, float]
) -> None:
    # Nothing is sent: the scheduler is built, not run.
    settings = load_settings({**values, **NO_CAPGO}, environ={}, home=None)
    refused = httpx.MockTransport(lambda request: httpx.Response(503))
    async with exporter(settings, refused, process_metrics=False) as built:
        published = {
            name: sample(
                built.self_metrics, "capgo_exporter_collector_max_age_seconds", collector=name
            )
            for name in COLLECTORS
        }
    assert {name: age for name, age in published.items() if age is not None} == expected
    assert all(settings.max_age_for(name) == age for name, age in expected.items())
