"""The bank's own work per flow order, in one process: making the flow, and booking the events.

    python bench/bank_books.py                          # 300,000 flow records, 3 reps
    python bench/bank_books.py --base /path/to/other/checkout --reps 5

For today's flow (no new type, no agent), every order type at its default share, and the same
with 10 market makers: the flow is made in batches of 256 (as the bank places them), and a
ledger places those batches and books the events a broker holding every symbol answered them
with, 16 batches to a booking (a run at ``--rate 0`` books about that many at once). Each figure
is CPU microseconds per flow record (``time.process_time``, the collector as in the bank: on).
With ``--base``, each repetition runs this checkout and the other in turn, each in a process of
its own, and the ratios base / this are taken within the repetition; medians printed.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NO_TYPES = ("--fok-ratio", "0", "--post-only-ratio", "0", "--stop-ratio", "0", "--iceberg-ratio", "0",
            "--amend-ratio", "0")  # fmt: skip
CASES = {"today's flow": NO_TYPES, "every type": (), "every type + 10 makers": ("--market-makers", "10")}
_GROUP = 16  # batches of 256 a booking takes


def grouped(batches: list, answers: list) -> tuple[list, list]:
    """The flow's batches and a broker's answers to them (one array of event records each),
    joined ``_GROUP`` at a time: what one booking takes."""
    import numpy as np

    def join(arrays: list) -> list:
        return [np.concatenate(arrays[i : i + _GROUP]) for i in range(0, len(arrays), _GROUP)]

    return join(batches), join(answers)


def new_ledger(config, params):
    """A bank's ledger for ``config``'s symbols and accounts, its agents' included."""
    from simulator.ledger import Ledger

    return Ledger(config.symbols, config.accounts + 1 + (params.count if params else 0), params)


def book(ledger, placed: list, booked: list) -> None:
    """``ledger`` places each group of orders and books the events that answered it."""
    from simulator.stats import LatencyHistogram

    acks, finals = LatencyHistogram(), LatencyHistogram()
    for rows, ev in zip(placed, booked):
        ledger.place(rows, 1000)
        ledger.apply(ev, 2000, acks, finals)
    assert ledger.unknown_events == 0, f"{ledger.unknown_events} events not booked"


def measure(records: int) -> dict[str, dict[str, float]]:
    """This process's figures for each case, with the ``simulator`` found first on sys.path."""
    import numpy as np

    from simulator import agent_flags
    from simulator import messages as msg
    from simulator.broker import Broker
    from simulator.config import config_from_args
    from simulator.flow import OrderFlow

    out = {}
    for name, flags in CASES.items():
        config = config_from_args(["--headless", *flags])
        params = agent_flags.params(config, config.accounts + 1) if agent_flags.any_agents(config) else None
        flow = OrderFlow.from_config(config)
        gc.collect()
        t = time.process_time()
        batches = [flow.generate(256) for _ in range(records // 256)]
        made = time.process_time() - t
        n = sum(len(b) for b in batches)
        symbols = tuple(config.symbols)
        broker = Broker(msg.BrokerSpec(0, "b", symbols, tuple(range(len(symbols))), agents=params))
        answers = []
        for rows in batches:
            events: list[int] = []
            broker.handle_orders(rows.ravel().tolist(), events)
            answers.append(np.array(events, np.int64).reshape(-1, 7))
        placed, booked = grouped(batches, answers)
        ledger = new_ledger(config, params)
        gc.collect()
        t = time.process_time()
        book(ledger, placed, booked)
        books = time.process_time() - t
        out[name] = {"make": made / n * 1e6, "book": books / n * 1e6}
    return out


def run_in(root: Path, records: int) -> dict[str, dict[str, float]]:
    """``measure`` in a process of its own, with ``root``'s simulator."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(root)!r}); sys.path.insert(0, {str(ROOT / 'bench')!r}); "
        f"import bank_books; print(json.dumps(bank_books.measure({records})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    return json.loads(done.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=300_000, help="flow records per case")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--base", type=Path, help="another checkout, run in turn with this one")
    args = ap.parse_args(argv)
    if args.base is not None and not (args.base / "simulator" / "flow.py").is_file():
        ap.error(f"--base {args.base}: no checkout of the simulator there")
    trees = {"this": ROOT} if args.base is None else {"base": args.base.resolve(), "this": ROOT}
    runs: dict[str, list[dict]] = {t: [] for t in trees}
    for rep in range(args.reps):
        for tree, root in trees.items():
            runs[tree].append(run_in(root, args.records))
            said = ", ".join(f"{c} {f['make']:.2f} + {f['book']:.2f}" for c, f in runs[tree][-1].items())
            print(f"rep {rep + 1} {tree}: us per flow record, make + book: {said}", flush=True)
    print(f"\nmedians of {args.reps}, CPU us per flow record")
    for case in CASES:
        for tree in trees:
            make = statistics.median(r[case]["make"] for r in runs[tree])
            book = statistics.median(r[case]["book"] for r in runs[tree])
            print(f"  {case:<24} {tree:<5} make {make:5.2f}  book {book:5.2f}  both {make + book:5.2f}")
        if args.base is not None:
            ratio = [
                (b[case]["make"] + b[case]["book"]) / (t[case]["make"] + t[case]["book"])
                for b, t in zip(runs["base"], runs["this"])
            ]
            each = [round(x, 3) for x in ratio]
            print(f"  {case:<24} base / this, both: {statistics.median(ratio):.3f} {each}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
