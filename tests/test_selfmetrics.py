"""The live self-metrics: pre-initialised at zero, and never stale despite the render cache."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter

from capgo_exporter.selfmetrics import EXPORTER_ENDPOINTS, RETRY_REASONS, SelfMetrics


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
