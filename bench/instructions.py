"""Instructions, not seconds: what the broker's matching and the bank's booking cost, by callgrind.

    python bench/instructions.py                     # 20,000 flow orders per case
    python bench/instructions.py --base /path/to/other/checkout
    python bench/instructions.py --orders 50000 --cases today,makers --parts broker

On these shared machines a CPU-time figure moves by more than most changes gain (the same
matching read 2.0 to 3.0 us per record within minutes here). valgrind's callgrind counts the
instructions a process runs instead, whatever else the machine is doing. With the hash seed fixed,
no address randomisation and no watched symbol, one tree counted twice agrees within 0.5% in
most cases and 3% in the worst seen (the bank): two trees, or two cases, compare far more
finely than any timing here can (count a tree against itself with --base to see the spread).

Cases (seed 1, so every tree sees the same orders): today's flow (no new type, no agent), every
type at its default share, the same with 10 market makers, and the orders those makers' desks
made put in the inbox behind the order that made each, to a broker with no desk (what matching
them costs with a desk that cost nothing; bench/agents_floor.py times the same). Parts: a broker
holding every symbol matching the batches of 256 (``broker``), and a bank's ledger placing them
and booking the broker's answers, 16 batches to a booking as bench/bank_books.py does (``bank``;
the flow's making is left out: bench/bank_books.py times it). Each case and part runs in
a child under callgrind twice, doing its work once and three times after the same set-up: half
the difference is one pass, start-up and set-up taken out. Printed: instructions per flow order
(the flow's cancels are no orders, as a run counts them) and the ratio to today's flow; with
``--base``, the other checkout's beside, and base / this.

Not a whole run: a run's brokers also decode, pack and send, and its bank routes and reads, all
of which grow with the records too. Needs valgrind (apt-get install valgrind). At the default
size a child takes a few seconds to two minutes (the makers' broker), two at a time: about five
minutes in all.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bank_books import NO_TYPES  # today's flow: no new order type

ROOT = Path(__file__).resolve().parents[1]
CASES = {
    "today": ("today's flow", NO_TYPES),
    "every": ("every type", ()),
    "makers": ("every type + 10 makers", ("--market-makers", "10")),
    "no_desk": ("  their orders, no desk", ("--market-makers", "10")),
}
PARTS = ("broker", "bank")
_BATCH, _CANCEL = 256, 2  # as a run places; OrderType.CANCEL
_PASSES = (1, 3)


def child(case: str, part: str, passes: int, orders: int) -> int:
    """The work of ``case`` and ``part`` done ``passes`` times after its set-up, in this process,
    with the ``simulator`` already first on sys.path; how many flow orders."""
    import gc

    import numpy as np

    import simulator  # noqa: F401  (first: the bench modules below put this checkout on sys.path)
    from simulator import agent_flags
    from simulator import messages as msg
    from simulator.broker import Broker
    from simulator.config import config_from_args
    from simulator.flow import OrderFlow
    from simulator.wire import ORDER_WIDTH

    # isort: split
    import agents_floor  # its matching loop and its with_agents_orders, for the same figures
    import bank_books  # its booking (imported above already: no simulator module at its top)

    config = config_from_args(["--headless", "--seed", "1", *CASES[case][1]])
    params = agent_flags.params(config, config.accounts + 1) if agent_flags.any_agents(config) else None
    symbols = tuple(config.symbols)
    flow = OrderFlow.from_config(config)
    rows = [flow.generate(_BATCH) for _ in range(orders // _BATCH)]  # (their cancels on top)
    batches = [r.ravel().tolist() for r in rows]
    flow_orders = sum(len(b) // ORDER_WIDTH - b[4::ORDER_WIDTH].count(_CANCEL) for b in batches)

    def broker(agents) -> Broker:
        # no watched symbol: its tape samples by the clock, which would make the count depend
        # on valgrind's speed (a run's watched book costs one more call per order of its symbol)
        return Broker(msg.BrokerSpec(0, "b", symbols, tuple(range(len(symbols))), agents=agents))

    outs: list = []
    agents_floor.timed(broker(params), batches, outs)
    if part == "broker":
        if case == "no_desk":
            batches = [agents_floor.with_agents_orders(b, o) for b, o in zip(batches, outs)]
            params = None
        for _ in range(passes):
            agents_floor.timed(broker(params), batches)
    else:
        placed, booked = bank_books.grouped(rows, [np.array(o, np.int64).reshape(-1, 7) for o in outs])
        for _ in range(passes):
            ledger = bank_books.new_ledger(config, params)
            gc.collect()
            bank_books.book(ledger, placed, booked)
    return flow_orders


def counted(root: Path, case: str, part: str, passes: int, orders: int, tmp: str) -> tuple[int, int]:
    """(instructions, flow orders) of one child under callgrind, with ``root``'s simulator."""
    code = (
        f"import json, sys; sys.path.insert(0, {str(root)!r}); sys.path.insert(1, {str(ROOT / 'bench')!r}); "
        f"import instructions; print(json.dumps(instructions.child({case!r}, {part!r}, {passes}, {orders})))"
    )
    out = f"{tmp}/{abs(hash(root))}.{case}.{part}.{passes}.out"
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-c", code]
    if shutil.which("setarch"):  # the same addresses each time: numpy's loops peel by alignment
        cmd = ["setarch", platform.machine(), "--addr-no-randomize", *cmd]
    # a fixed hash seed: string hashes (and so dicts' and sets' layouts) otherwise change the
    # count by a percent or two from one child to the next
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=root, env=env)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or found is None:
        raise SystemExit(f"{root} {case} {part}: the child failed:\n{done.stderr[-2000:]}")
    return int(found.group(1)), json.loads(done.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=20_000, help="flow orders per case (default 20,000)")
    ap.add_argument("--base", type=Path, help="another checkout, counted beside this one")
    ap.add_argument("--cases", default=",".join(CASES), help=f"some of {','.join(CASES)}")
    ap.add_argument("--parts", default=",".join(PARTS), help="broker, bank or both")
    args = ap.parse_args(argv)
    cases, parts = args.cases.split(","), args.parts.split(",")
    if not set(cases) <= set(CASES) or not set(parts) <= set(PARTS):
        ap.error(f"--cases takes some of {','.join(CASES)}, --parts some of {','.join(PARTS)}")
    if args.base is not None and not (args.base / "simulator" / "flow.py").is_file():
        ap.error(f"--base {args.base}: no checkout of the simulator there")
    if args.orders < _BATCH:
        ap.error(f"--orders: at least {_BATCH}")
    if shutil.which("valgrind") is None:
        ap.error("valgrind not found (apt-get install valgrind)")
    trees = {"this": ROOT} if args.base is None else {"this": ROOT, "base": args.base.resolve()}
    jobs = [
        (tree, case, part, n)
        for tree in trees
        for case in cases
        for part in parts
        if not (part == "bank" and case == "no_desk")  # the same booking as the makers'
        for n in _PASSES
    ]
    with tempfile.TemporaryDirectory() as tmp, concurrent.futures.ThreadPoolExecutor(2) as pool:
        futures = {job: pool.submit(counted, trees[job[0]], *job[1:], args.orders, tmp) for job in jobs}
        got = {job: f.result() for job, f in futures.items()}
    per: dict[tuple, float] = {}  # (tree, case, part) -> instructions per flow order, one pass
    for tree, case, part, n in jobs:
        if n == _PASSES[0]:
            (one, flow_orders), (more, _) = got[(tree, case, part, n)], got[(tree, case, part, _PASSES[1])]
            per[(tree, case, part)] = (more - one) / (_PASSES[1] - _PASSES[0]) / flow_orders
    print(f"instructions per flow order, one pass (callgrind, {args.orders:,} flow orders, seed 1)")
    heads = "".join(f"{p + ' ' + t:>16}{'ratio':>7}" for p in parts for t in trees)
    print(f"{'':26}{heads}")
    for case in cases:
        cells = ""
        for part in parts:
            for tree in trees:
                figure, today = per.get((tree, case, part)), per.get((tree, "today", part))
                if figure is None:
                    cells += f"{'-':>16}{'':>7}"
                    continue
                ratio = f"{figure / today:.3f}" if today else ""
                cells += f"{figure:>16,.0f}{ratio:>7}"
        print(f"{CASES[case][0]:<26}{cells}")
    if args.base is not None:
        for part in parts:
            said = ", ".join(
                f"{c} {per[('base', c, part)] / per[('this', c, part)]:.3f}"
                for c in cases
                if ("this", c, part) in per
            )
            print(f"base / this, {part}: {said}")
    print("ratio: to today's flow in the same tree (more instructions per flow order: less throughput)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
