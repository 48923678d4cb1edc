"""Large fleets, side by side: a first walk and an incremental poll at several fleet sizes,
with pages of 999 (the exporter before adaptive paging) and the adaptive default.

    python benchmarks/bench_device_walk.py                       # 10k, 100k, 1M devices
    python benchmarks/bench_device_walk.py --sizes 10000 100000  # quicker

Every cell is one run of bench_devices.py in a fresh process (its own peak RSS), against the
simulator in another process over loopback TCP, with a SQLite index in a fresh state directory:
every CPU second counted is the exporter's (process CPU time: user + system, all threads), HTTP
and JSON decoding included. Rows:

- 999, stdlib json: the walk before this change (pages of 999, the standard JSON decoder);
- 999: pages of 999 with the msgspec decoder;
- adaptive: the default (50,000 a page on production-style paging);
- adaptive, 1,000 cap: the default against a Capgo whose storage cuts pages at 1,000
  (Supabase path): it falls back to 999 after one extra request;
- adaptive, gzip: the default with gzip-compressed bodies, as Capgo's CDN may send them (the
  exporter accepts gzip): a ninth of the bytes, and the exporter's CPU to inflate them.

The incremental poll follows the walk after `--touch` devices changed. With `--repeat N`
every cell runs N times and shows the run of median CPU per device, with the range of all N
in brackets ("2.75 µs (2.70 to 2.81)"): on a shared machine one run can be 15 % off.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
VARIANTS: dict[str, list[str]] = {
    "999, stdlib json": ["--page-size", "999", "--decoder", "stdlib"],
    "999": ["--page-size", "999"],
    "adaptive": [],
    "adaptive, 1,000 cap": ["--cap", "1000"],
    "adaptive, gzip": ["--gzip"],
}


def run(devices: int, touch: int, extra: list[str]) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "bench_devices.py"), "--json", "--tcp"]
    command += ["--devices", str(devices), "--touch", str(touch), *extra]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--touch", type=int, default=2_000, help="devices changed before the poll")
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--repeat", type=int, default=1, help="runs per cell (median shown)")
    args = parser.parse_args()
    print("reproduce: " + " ".join(["python", "benchmarks/bench_device_walk.py", *sys.argv[1:]]))
    print(f"python {sys.version.split()[0]}; simulator in a child process over loopback TCP")
    header = (
        "| devices | page size | walk requests | walk wall | CPU/device | peak RSS | RSS at rest"
        " | poll requests | poll wall | poll CPU |"
    )
    print()
    print(header)
    print("|" + "---|" * header.count(" | ") + "---|")
    for devices in args.sizes:
        for name in args.variants:
            runs = [run(devices, args.touch, VARIANTS[name]) for _ in range(args.repeat)]
            runs.sort(key=lambda figures: float(figures["first"]["cpu_us_per_device"]))
            figures = runs[(len(runs) - 1) // 2]  # the median run (the lower one of an even count)
            first, poll = figures["first"], figures["poll"]
            cpu = f"{first['cpu_us_per_device']:.2f} µs"
            if len(runs) > 1:
                low, high = (r["first"]["cpu_us_per_device"] for r in (runs[0], runs[-1]))
                cpu += f" ({low:.2f} to {high:.2f})"
            print(
                f"| {devices:,} | {name} | {first['requests']} | {first['wall_s']:.2f} s"
                f" | {cpu} | {first['peak_rss_mb']:.0f} MB"
                f" | {figures['rest_rss_mb']:.0f} MB | {poll['requests']}"
                f" | {poll['wall_s']:.2f} s | {poll['cpu_s'] * 1000:.0f} ms |",
                flush=True,
            )


if __name__ == "__main__":
    main()
