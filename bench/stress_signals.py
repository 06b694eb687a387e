"""Signal stress drill: stop the simulator with real signals at random moments, many times.

    python bench/stress_signals.py                        # 200 runs, a few minutes on 2 cores
    python bench/stress_signals.py --runs 50 --seed 7 --json drill.json
    python bench/stress_signals.py --seed 7 --only 17,42  # run again just those runs of a drill

The drill itself (the plan, the timing classes, one drilled run and its judgement) is
``simulator.testing.signal_drill``, shared with the test suite's short drill; this script runs it
long: one run after another, planned up front from ``random.Random(seed)``, so a seed repeats the
drill and ``--only`` repeats single runs (timing is never exact: each record says where the signal
really landed).

Prints a dot per run (``F`` a failure, ``H`` a hang, ``p`` a pre-start run), then one table.
Exit status 0 only if every run (pre-start ones aside) exited 0 with 0 lost, no orphan, no hang.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from simulator.testing.signal_drill import (  # noqa: E402
    ALL_CLASSES,
    SIGNALS,
    RunResult,
    ignored_stop_signals,
    make_plan,
    run_once,
)

# -- the figures ----------------------------------------------------------------------------------


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


def summarize(results: list[RunResult], seed: int, runs: int | None = None) -> tuple[str, bool]:
    """The printed table, and whether the drill passed."""
    n = len(results)
    pre = [r for r in results if r.pre_start]
    fails = [r for r in results if not r.ok]
    exit0 = sum(1 for r in results if r.exit_code == 0)
    others: dict[object, list[RunResult]] = {}
    for r in results:
        if r.exit_code != 0:
            others.setdefault("HANG" if r.hang else r.exit_code, []).append(r)
    stops = [r.stop_s for r in results if r.stop_s is not None and not r.pre_start]
    lines = [
        f"signal stress drill: {n} runs, seed {seed}; python {platform.python_version()}, "
        f"{os.cpu_count()} cpus"
    ]

    def row(label: str, value: str) -> None:
        lines.append(f"  {label:<30}{value}")

    row("runs", str(n))
    row("exit 0", str(exit0))
    if others:
        for code, rs in sorted(others.items(), key=lambda kv: str(kv[0])):
            reasons = Counter(r.stop_reason or ("pre-start" if r.pre_start else "no report") for r in rs)
            ex = "; ".join(f"{reason!s:.60} x{k}" for reason, k in reasons.most_common(3))
            row(f"exit {code}", f"{len(rs)}  ({ex})")
    else:
        row("other exit codes", "none")
    row(
        "pre-start (not failures)",
        f"{len(pre)}  (signal before simulate.py's handlers: died of it, no report, nothing left)",
    )
    row("missing reports", str(sum(1 for r in results if not r.report and not r.pre_start)))
    row("lost orders (total)", str(sum(r.lost or 0 for r in results)))
    row("not reconciled", str(sum(1 for r in results if r.report and r.reconciled is not True)))
    row(
        "orphans (runs / procs)",
        f"{sum(1 for r in results if r.orphans)} / {sum(len(r.orphans) for r in results)}",
    )
    row("hangs", str(sum(1 for r in results if r.hang)))
    if stops:
        row(
            "stop time s (sig->all gone)",
            f"median {statistics.median(stops):.3f}  "
            f"p95 {_pct(stops, 0.95):.3f}  max {max(stops):.3f}  "
            f"(n={len(stops)})",
        )
    classes = Counter(r.spec.timing for r in results)
    row("timing class", "  ".join(f"{c} {classes[c]}" for c in ALL_CLASSES))
    phases = Counter(r.phase for r in results)
    row(
        "landed in phase",
        "  ".join(
            f"{p} {phases[p]}" for p in ("interp", "imports", "banner", "startup", "running") if phases[p]
        ),
    )
    sigs = Counter(r.spec.signal for r in results)
    row(
        "signal",
        "  ".join(f"{s} {sigs[s]}" for s in SIGNALS)
        + f"  (+2nd SIGINT {sum(1 for r in results if r.second_sent)})",
    )
    lines.append(f"  {'FAILED' if fails else 'PASSED'}: {len(fails)} failing run(s)")
    for r in fails:
        lines.append(f"  - {r.spec.describe()}")
        lines.append(
            f"      signal at {r.delay_s}s after exec, landed in {r.phase}; exit {r.exit_code}, "
            f"stop reason {r.stop_reason!r}, placed {r.placed}, lost {r.lost}, "
            f"stop {r.stop_s}s: {'; '.join(r.problems)}"
        )
        lines.append(
            f"      repeat: python bench/stress_signals.py --seed {seed} --runs {runs or n} "
            f"--only {r.spec.index}"
        )
    return "\n".join(lines), not fails


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--seed", type=int, default=None, help="seed of the drill (random if omitted)")
    ap.add_argument("--json", metavar="PATH", help="write every run's record and the summary here")
    ap.add_argument("--only", metavar="I,J", help="run only these run indices of the plan")
    ap.add_argument("-v", "--verbose", action="store_true", help="one line per run instead of dots")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1, 1_000_000)
    plan = make_plan(args.runs, seed)
    if args.only:
        wanted = {int(i) for i in args.only.split(",")}
        plan = [s for s in plan if s.index in wanted]
    print(f"stress_signals: {len(plan)} runs, seed {seed}", flush=True)
    if ignored_stop_signals():
        print(
            f"note: {', '.join(ignored_stop_signals())} ignored in this shell (nohup?); each "
            "simulator starts with the default disposition, as from a terminal",
            flush=True,
        )
    results = []
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="stress-signals-") as tmp:
        for spec in plan:
            r = run_once(spec, tmp)
            results.append(r)
            if args.verbose:
                print(
                    f"{spec.describe()} -> landed {r.phase} at {r.delay_s}s, exit {r.exit_code}, "
                    f"{r.stop_reason!r}, placed {r.placed}, stop {r.stop_s}s"
                    + (f"  FAIL: {'; '.join(r.problems)}" if r.problems else ""),
                    flush=True,
                )
            else:
                mark = "H" if r.hang else "F" if r.problems else "p" if r.pre_start else "."
                print(mark, end="" if len(results) % 50 else "\n", flush=True)
    if not args.verbose and len(results) % 50:
        print()
    table, passed = summarize(results, seed, args.runs)
    print(f"({time.monotonic() - t0:.0f} s)")
    print(table)
    for r in results:
        if r.problems:
            print(f"\n--- output of failing run #{r.spec.index}\n{r.output}{r.stacks}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "seed": seed,
                    "passed": passed,
                    "summary": table,
                    "runs": [dataclasses.asdict(r) for r in results],
                },
                indent=1,
                default=str,
            )
        )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
