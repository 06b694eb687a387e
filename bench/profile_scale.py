"""Where the bank's and a broker's CPU goes, by symbols and accounts: cProfile on CPU time.

    python bench/profile_scale.py bank --symbols 10000 --orders 1000000
    python bench/profile_scale.py broker --symbols 100000 --orders 1000000
    python bench/profile_scale.py bank --accounts 1000000 --orders 1000000 --top 40

``bank`` runs a whole headless run (``--rate 0``) in this process, the bank profiled, the brokers
forked as usual and not. ``broker`` matches the flow of one broker holding every symbol in this
process, batches of 256 as a run sends them, timed from the first batch to the last. Both count
CPU seconds of this process (``time.process_time``), so other loads of a shared machine move the
figures less than a wall clock's would, and both print the CPU microseconds per order and the
functions that took the most (their own time). py-spy, where installed, samples a real run
without this overhead: ``py-spy record -o out.svg -- python simulate.py ...``.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import pstats
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator import messages as msg  # noqa: E402
from simulator.__main__ import run  # noqa: E402
from simulator.broker import Broker  # noqa: E402
from simulator.config import config_from_args  # noqa: E402
from simulator.flow import OrderFlow  # noqa: E402
from simulator.wire import ORDER_WIDTH  # noqa: E402

_BATCH = 256


def profile_bank(flags: list[str], orders: int) -> tuple[cProfile.Profile, float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        argv = ["--headless", "--rate", "0", "--orders", str(orders), "--report", f"{tmp}/r.json", *flags]
        prof = cProfile.Profile(time.process_time)
        t = time.process_time()
        prof.enable()
        status = run(argv)
        prof.disable()
        t = time.process_time() - t
    if status != 0:
        raise SystemExit(f"the run ended with status {status}")
    return prof, t, orders


def profile_broker(flags: list[str], orders: int) -> tuple[cProfile.Profile, float, int]:
    config = config_from_args(["--headless", *flags])
    symbols = tuple(config.symbols)
    flow = OrderFlow.from_config(config)
    batches = [flow.generate(_BATCH).ravel().tolist() for _ in range(orders // _BATCH)]
    n = sum(len(b) for b in batches) // ORDER_WIDTH
    broker = Broker(msg.BrokerSpec(0, "b", symbols, tuple(range(len(symbols)))))
    gc.collect()
    prof = cProfile.Profile(time.process_time)
    t = time.process_time()
    prof.enable()
    for flat in batches:
        broker.handle_orders(flat, [])
    prof.disable()
    t = time.process_time() - t
    return prof, t, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("role", choices=("bank", "broker"))
    ap.add_argument("--orders", type=int, default=1_000_000)
    ap.add_argument("--top", type=int, default=25, help="functions printed")
    args, flags = ap.parse_known_args(argv)
    prof, seconds, n = (profile_bank if args.role == "bank" else profile_broker)(flags, args.orders)
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip())[-20000:])
    print(f"{args.role} {' '.join(flags) or 'defaults'}: {n:,} orders, {seconds:.2f} s CPU profiled, "
          f"{seconds / n * 1e6:.2f} us per order (cProfile's overhead included)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
