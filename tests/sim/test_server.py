"""The simulator over TCP: routes, /_sim/ control routes, concurrency, the CLI."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time

import httpx
import pytest

from capgo_exporter.sim import Simulator
from tests.sim.conftest import APP


def test_tcp_serves_capgo_routes_and_control_routes(sim: Simulator) -> None:
    with sim.serve_tcp() as url, httpx.Client(base_url=url, headers={"capgkey": "demo"}) as c:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        page = c.request("GET", "/device", json={"app_id": APP, "limit": 5}).json()
        assert len(page["data"]) == 5  # a GET body travels over TCP too
        assert c.get("/_sim/requests").json() == {"GET /device": 1}
        assert c.get("/_sim/requests", params={"by": "status"}).json() == {"GET /device 200": 1}
        assert c.post("/_sim/requests/reset").json() == {"status": "ok"}
        assert c.post("/_sim/config", json={"latency_ms": 5}).json()["latency_ms"] == 5
        assert c.post("/_sim/config", json={"nope": 1}).status_code == 400
        touched = c.post("/_sim/touch", json={"app_id": APP, "n": 2}).json()["device_ids"]
        assert len(touched) == 2
        truth = c.get("/_sim/truth", params={"cycle_start_day": "1"}).json()
        assert truth["orgs"][0]["apps"][0]["app_id"] == APP
        assert sim.request_counts() == {}  # control routes are not counted


def test_gzip_compresses_large_bodies_for_clients_that_accept_it(sim: Simulator) -> None:
    """As Capgo's CDN: the benchmark measures what inflating device pages costs."""
    query: dict[str, str | int] = {"app_id": APP, "limit": 200}
    with sim.serve_tcp() as plain_url, sim.serve_tcp(gzip=True) as gzip_url:
        plain = httpx.get(f"{plain_url}/device", params=query, headers={"capgkey": "demo"})
        with httpx.stream(
            "GET", f"{gzip_url}/device", params=query, headers={"capgkey": "demo"}
        ) as packed:
            raw = b"".join(packed.iter_raw())
            assert packed.headers["content-encoding"] == "gzip"
        inflated = httpx.get(f"{gzip_url}/device", params=query, headers={"capgkey": "demo"})
        identity = httpx.get(
            f"{gzip_url}/device",
            params=query,
            headers={"capgkey": "demo", "accept-encoding": "identity"},
        )
        small = httpx.get(
            f"{gzip_url}/device", params={**query, "limit": 1}, headers={"capgkey": "demo"}
        )
    assert len(raw) < len(plain.content) / 4
    assert inflated.json() == plain.json() == identity.json()
    assert "content-encoding" not in identity.headers
    assert "content-encoding" not in plain.headers
    assert "content-encoding" not in small.headers  # under 1 KiB: not worth it


@pytest.mark.serial  # asserts how long something takes
async def test_latency_does_not_serialise_concurrent_requests(sim: Simulator) -> None:
    sim.configure(latency_ms=300)
    with sim.serve_tcp() as url:
        limits = httpx.Limits(max_connections=40)
        async with httpx.AsyncClient(base_url=url, headers={"capgkey": "demo"}, limits=limits) as c:
            started = time.perf_counter()
            answers = await asyncio.gather(
                *(c.get("/channel", params={"app_id": APP}) for _ in range(30))
            )
            elapsed = time.perf_counter() - started
    assert all(a.status_code == 200 for a in answers)
    assert 0.3 <= elapsed < 1.5, elapsed


def test_cli_serves_until_sigterm() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "capgo_exporter.sim",
            "--port",
            "0",
            "--key",
            "k3y",
            "--devices-per-app",
            "50",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", line)
        assert url, line
        r = httpx.get(
            f"{url.group(0)}/device", params={"app_id": APP}, headers={"authorization": "k3y"}
        )
        assert len(r.json()["data"]) == 50
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        proc.kill()


def test_cli_rejects_bad_flags() -> None:
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "capgo_exporter.sim",
            "--port",
            "0",
            "--key",
            "k",
            "--fail-rate",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert bad.returncode == 2
    assert "--fail-rate" in bad.stderr
