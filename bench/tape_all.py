"""What the all-symbols tape costs the order flow at --rate 0.

    python bench/tape_all.py [--reps 3] [--duration 8] [--brokers 2]

Each repetition runs, back to back with the same seed, two headless runs at ``--rate 0`` with
their API on loopback (``--http 127.0.0.1:0 --http-control``), which differ only in the tape
asked for as soon as the API answers: ``{"tape": "watched"}`` (today's tape, the watched
symbol's book alone wrapped) and ``{"tape": "all"}`` (every book of every broker wrapped, the
bank merging). Which goes first alternates. orders/s comes from each run's report
(``throughput.orders_per_s``); the ratio all / watched is taken within each repetition, so the
machine's load falls on both alike; its median is printed, with ``uptime`` before and after.
Every process started is ended, even on failure (``SimProcess`` in a ``with``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.testing.procs import SimProcess  # noqa: E402
from simulator.testing.waiting import deadline_wait  # noqa: E402

TOKEN = "tape-bench-token"


def one_run(tape: str, duration: float, brokers: int, seed: int) -> float:
    """orders/s of a headless --rate 0 run whose tape is ``tape`` from its start."""
    os.environ["SIM_HTTP_TOKEN"] = TOKEN
    with tempfile.TemporaryDirectory() as tmp:
        flags = ("--rate", "0", "--duration", str(duration), "--brokers", str(brokers), "--seed", str(seed))
        with SimProcess(
            *flags, "--http", "127.0.0.1:0", "--http-control", report=Path(tmp) / "r.json"
        ) as sim:
            url: str = deadline_wait(lambda: _url(sim.stdout) or "", 60, "the API's URL")
            request = urllib.request.Request(
                url + "/api/control",
                data=json.dumps({"tape": tape}).encode(),
                headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request, timeout=10) as answer:
                assert answer.status == 202
            code = sim.wait_exit(duration + 120)
            assert code == 0, sim.output()
            report = sim.report()
    assert report["reconciled"] and report["orders"]["lost"] == 0
    return float(report["throughput"]["orders_per_s"])


def _url(lines: list[str]) -> str | None:
    for line in lines:
        if "API is at " in line:
            return line.split("API is at ", 1)[1].split()[0]
    return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--brokers", type=int, default=2)
    args = ap.parse_args()
    print("uptime before:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    ratios: list[float] = []
    rates: dict[str, list[float]] = {"watched": [], "all": []}
    for rep in range(args.reps):
        order = ("watched", "all") if rep % 2 == 0 else ("all", "watched")
        got = {tape: one_run(tape, args.duration, args.brokers, rep + 1) for tape in order}
        for tape, rate in got.items():
            rates[tape].append(rate)
        ratios.append(got["all"] / got["watched"])
        print(
            f"rep {rep + 1}: watched {got['watched']:,.0f} orders/s, all symbols {got['all']:,.0f} "
            f"orders/s, ratio {ratios[-1]:.3f}",
            flush=True,
        )
    for tape, values in rates.items():
        low, high = min(values), max(values)
        print(f"tape {tape:<7}: median {statistics.median(values):,.0f} orders/s [{low:,.0f} - {high:,.0f}]")
    print(f"all symbols / watched, same repetition: median {statistics.median(ratios):.3f}")
    print("uptime after:", subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
