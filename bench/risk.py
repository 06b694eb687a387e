"""What pre-trade risk costs the flow: --rate 0 throughput with the checks off, on, and a base tree.

    python bench/risk.py --base /work/main --reps 5 --duration 8

Each repetition runs, one after another in this process tree: the base checkout (the code
before the checks, if given), this tree with every check off, this tree with the per-order
checks on (--max-order-qty, --max-notional, --price-band-pct, --max-orders-per-s), and this
tree with the account checks on too (--max-open-orders, --max-position, read from the live
books). It prints each one's median orders/s with [min - max], and the ratios of the medians
and of each repetition's pair, since these shared machines drift from minute to minute.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PER_ORDER = ("--max-order-qty", "900", "--max-notional", "400000", "--price-band-pct", "0.05")
PER_ORDER += ("--max-orders-per-s", "100000",)  # fmt: skip
ACCOUNT = ("--max-open-orders", "1000", "--max-position", "100000")


def orders_per_s(tree: Path, flags: tuple[str, ...], duration: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.json"
        cmd = [sys.executable, str(tree / "simulate.py"), "--headless", "--rate", "0", "--seed", "7"]
        cmd += ["--duration", str(duration), "--report", str(path), *flags]
        subprocess.run(cmd, cwd=tree, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)
        report = json.loads(path.read_text())
    assert report["reconciled"], "a run did not reconcile"
    return report["orders"]["placed"] / (report["duration_s"] + report["drain_s"])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", type=Path, help="a checkout without the checks, measured alongside")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--duration", type=float, default=8.0)
    a = p.parse_args()
    rows = {"checks off": (ROOT, ()), "per-order checks on": (ROOT, PER_ORDER)}
    rows["per-order + account checks on"] = (ROOT, PER_ORDER + ACCOUNT)
    if a.base:
        rows = {"base tree": (a.base.resolve(), ())} | rows
    got: dict[str, list[float]] = {name: [] for name in rows}
    for rep in range(a.reps):
        for name, (tree, flags) in rows.items():
            got[name].append(orders_per_s(tree, flags, a.duration))
        print(f"rep {rep + 1}: " + ", ".join(f"{n} {v[-1]:,.0f}/s" for n, v in got.items()), flush=True)
    ref = "base tree" if a.base else "checks off"
    for name, values in got.items():
        med = statistics.median(values)
        print(f"{name:<32} {med:>10,.0f} orders/s  [{min(values):,.0f} - {max(values):,.0f}]")
    for name, values in got.items():
        if name != ref:
            pairs = [v / r for v, r in zip(values, got[ref])]
            ratio = statistics.median(values) / statistics.median(got[ref])
            each = ", ".join(f"{x:.2f}" for x in pairs)
            print(f"ratio {name} / {ref}: {ratio:.3f} (medians); per repetition {each}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
