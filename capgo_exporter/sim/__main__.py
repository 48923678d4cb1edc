"""`python -m capgo_exporter.sim`: serve a simulated Capgo API over TCP until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType

from capgo_exporter.sim.config import Knobs, SimConfig
from capgo_exporter.sim.simulator import Simulator

log = logging.getLogger("capgo_exporter.sim")


def _non_negative(kind: type[int] | type[float]) -> Callable[[str], int | float]:
    def parse(text: str) -> int | float:
        value = kind(text)
        if value < 0:
            raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
        return value

    return parse


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be within 0..1, got {text}")
    return value


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m capgo_exporter.sim", description=__doc__)
    p.add_argument("--port", type=_non_negative(int), required=True, help="0 picks a free port")
    p.add_argument("--key", required=True, help="API key accepted as an org_super_admin key")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--seed", type=int, default=1)
    count = _non_negative(int)
    p.add_argument("--orgs", type=count, default=2)
    p.add_argument("--apps-per-org", type=count, default=3)
    p.add_argument("--devices-per-app", type=count, default=1000)
    p.add_argument("--bundles-per-app", type=count, default=12)
    p.add_argument("--channels-per-app", type=count, default=3)
    p.add_argument("--members-per-org", type=count, default=4)
    p.add_argument("--latency-ms", type=_non_negative(float), default=0.0)
    p.add_argument("--rate-limit-per-min", type=count, default=0, help="0 = off")
    p.add_argument("--fail-rate", type=_rate, default=0.0)
    p.add_argument("--timeout-rate", type=_rate, default=0.0)
    p.add_argument("--malformed-rate", type=_rate, default=0.0)
    p.add_argument("--legacy-device-paging", action="store_true")
    p.add_argument(
        "--newer-capgo",
        action="store_true",
        help="Capgo after 4bc7d83f: 200 [] past the last bundle page (not 400), activeDevices "
        "in native_usage, GET /device?custom_id=, GET /channel/current-bundle, updatePackage",
    )
    p.add_argument(
        "--device-row-cap",
        type=count,
        default=50_001,
        help="rows GET /device fetches at most, capped silently: 50001 (Analytics Engine, "
        "production), 1000 (Supabase path), 0 for none",
    )
    p.add_argument(
        "--gzip",
        action="store_true",
        help="gzip bodies over 1 KiB for clients that accept it, as Capgo's CDN does",
    )
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr
    )
    knobs = Knobs(
        latency_ms=args.latency_ms,
        rate_limit_per_min=args.rate_limit_per_min,
        fail_rate=args.fail_rate,
        timeout_rate=args.timeout_rate,
        malformed_rate=args.malformed_rate,
    )
    config = SimConfig(
        seed=args.seed,
        orgs=args.orgs,
        apps_per_org=args.apps_per_org,
        devices_per_app=args.devices_per_app,
        bundles_per_app=args.bundles_per_app,
        channels_per_app=args.channels_per_app,
        members_per_org=args.members_per_org,
        keys={args.key: "org_super_admin"},
        legacy_device_paging=args.legacy_device_paging,
        newer_capgo=args.newer_capgo,
        device_row_cap=args.device_row_cap,
        knobs=knobs,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    sim = Simulator(config)
    with sim.serve_tcp(args.host, args.port, gzip=args.gzip) as url:
        log.info("simulated Capgo API listening on %s", url)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
