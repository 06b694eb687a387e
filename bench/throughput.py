"""End-to-end orders/s of a headless run at --rate 0, next to a multiprocess queue's ceiling.

    python bench/throughput.py [--reps 3] [--duration 8] [--brokers 2]

Both are measured in the same run (one after another, per repetition), so the ratio holds on a
shared, noisy machine. The ceiling is the classic way to move orders: one order tuple per
``multiprocess.Queue.put``. ``bench/run.py`` measures more (latency, stop time, memory).
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from echo import queue_one_per_put_per_s  # noqa: E402
from run import end_to_end, simulate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=8.0)
    ap.add_argument("--brokers", type=int, default=2)
    args = ap.parse_args()
    sims, queues = [], []
    for rep in range(args.reps):
        queues.append(queue_one_per_put_per_s())
        report = simulate(
            "--rate",
            "0",
            "--duration",
            str(args.duration),
            "--brokers",
            str(args.brokers),
            "--seed",
            str(rep + 1),
        )
        assert report["reconciled"] and report["orders"]["lost"] == 0, report
        sims.append(end_to_end(report))
        print(
            f"rep {rep + 1}: simulator {sims[-1]:,.0f} orders/s, "
            f"queue one-per-put {queues[-1]:,.0f} orders/s",
            flush=True,
        )
    print(
        f"simulator, {args.brokers} brokers, --rate 0: median {statistics.median(sims):,.0f} "
        f"orders/s [{min(sims):,.0f} - {max(sims):,.0f}]"
    )
    print(
        f"multiprocess.Queue, one order per put:  median {statistics.median(queues):,.0f} "
        f"orders/s [{min(queues):,.0f} - {max(queues):,.0f}]"
    )
    print(f"ratio: {statistics.median(s / q for s, q in zip(sims, queues)):.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
