"""What compiling the broker's matching with mypyc gains: the same source, pure against compiled.

    python bench/mypyc_gain.py                          # 8 symbols, 3 reps; then with 10 market makers
    python bench/mypyc_gain.py --reps 5 -- --symbols 10000
    python bench/mypyc_gain.py --no-agents --chunk 64 -- --symbols 100000

Copies this checkout's files to a temporary directory and compiles there, with mypyc, the pure
model on the broker's hot path (``MODULES``); beside it a second copy of the package, renamed
``simulator_pure``, stays interpreted. One process then holds a broker of each (every symbol,
as ``profile_scale.py broker`` does) and matches the same batches of 256 with both, taking
turns every ``--chunk`` batches and counting each one's CPU time, so both see the same load:
on a shared machine the figures of separate runs move by more than the gain. The events of
both must be the same. Prints each repetition (CPU microseconds per order, pure and compiled,
and their ratio) and the median ratio. Nothing in this checkout is built or changed. Needs
mypy (which ships mypyc), a C compiler and the Python headers.

In-process only: compiled, the frozen dataclass ``agents.AgentParams`` cannot be unpickled (a
broker's spec carries it), and the readable ``OrderBook.submit``/``cancel``/``restore`` raise
TypeError for fields that are not ints, where the pure ones answer REJECT MALFORMED or
ValueError (mypyc checks the ``int`` annotations at the call).
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # in the prepared tree: its simulator and simulator_pure, not an install
# the pure model on the broker's hot path (stdlib only), which mypyc takes as it is; stp_book
# too, since an interpreted subclass of a compiled OrderBook would not override its methods
MODULES = ("book", "stp_book", "order_types", "order_checks", "agents")
_IMPORT = re.compile(r"^(\s*)(from|import) simulator\b", re.M)
_RATIO = re.compile(r"ratio ([0-9.]+)x")
_BATCH = 256


def prepare(tree: Path) -> float:
    """Compile ``MODULES`` in ``tree`` in place and add the interpreted ``simulator_pure``;
    the seconds the build took."""
    pure = tree / "simulator_pure"
    shutil.copytree(tree / "simulator", pure)
    for path in pure.rglob("*.py"):
        path.write_text(_IMPORT.sub(r"\1\2 simulator_pure", path.read_text()))
    t = time.monotonic()
    files = [f"simulator/{m}.py" for m in MODULES]
    proc = subprocess.run([sys.executable, "-m", "mypyc", *files], cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"mypyc failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return time.monotonic() - t


def compare(flags: list[str], orders: int, chunk: int) -> str:
    """In the prepared tree: both brokers on the same batches, taking turns; one line."""
    import simulator_pure.agent_flags
    import simulator_pure.book
    import simulator_pure.broker
    import simulator_pure.messages

    import simulator.book
    from simulator import agent_flags
    from simulator import messages as msg
    from simulator.broker import Broker
    from simulator.config import config_from_args
    from simulator.flow import OrderFlow
    from simulator.wire import ORDER_WIDTH

    if not simulator.book.__file__.endswith(".so") or not simulator_pure.book.__file__.endswith(".py"):
        raise SystemExit(f"not one compiled and one pure book: {simulator.book.__file__}")
    config = config_from_args(["--headless", *flags])
    symbols = tuple(config.symbols)
    ids = tuple(range(len(symbols)))
    flow = OrderFlow.from_config(config)
    batches = [flow.generate(_BATCH).ravel().tolist() for _ in range(orders // _BATCH)]
    n = sum(len(b) for b in batches) // ORDER_WIDTH
    agents = config.market_makers + config.momentum + config.mean_reversion > 0
    first = config.accounts + 1
    pure_spec = simulator_pure.messages.BrokerSpec(
        0, "b", symbols, ids, agents=simulator_pure.agent_flags.params(config, first) if agents else None
    )
    brokers = {
        "pure": simulator_pure.broker.Broker(pure_spec),
        "compiled": Broker(
            msg.BrokerSpec(0, "b", symbols, ids, agents=agent_flags.params(config, first) if agents else None)
        ),
    }
    cpu = dict.fromkeys(brokers, 0.0)
    gc.collect()
    gc.freeze()
    gc.disable()  # as agents_floor.py: the batches and events kept are no garbage
    for turn, i in enumerate(range(0, len(batches), chunk)):
        outs = {}
        for name in ("pure", "compiled") if turn % 2 else ("compiled", "pure"):
            broker, outs[name] = brokers[name], []
            t = time.process_time()
            for flat in batches[i : i + chunk]:
                out: list[int] = []
                broker.handle_orders(flat, out)
                outs[name].append(out)
            cpu[name] += time.process_time() - t
        if outs["pure"] != outs["compiled"]:
            raise SystemExit(f"pure and compiled events differ in batches {i} to {i + chunk}")
    gc.enable()
    pure, compiled = cpu["pure"] / n * 1e6, cpu["compiled"] / n * 1e6
    figures = f"pure {pure:.2f}, compiled {compiled:.2f}, ratio {pure / compiled:.2f}x"
    return f"{n:,} orders, us CPU per order: {figures}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--orders", type=int, default=1_000_000, help="flow records per repetition")
    ap.add_argument("--agents-orders", type=int, default=400_000, help="the same, with the market makers")
    ap.add_argument("--chunk", type=int, default=512, help="batches each broker matches per turn")
    ap.add_argument("--no-agents", action="store_true", help="skip the runs with 10 market makers")
    ap.add_argument("--compare", action="store_true", help=argparse.SUPPRESS)  # in the prepared tree
    args, flags = ap.parse_known_args(argv)
    flags = [f for f in flags if f != "--"]
    if args.compare:
        print(compare(flags, args.orders, args.chunk))
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        junk = shutil.ignore_patterns(".git", "__pycache__", "build", "*.so", ".hypothesis", ".pytest_cache")
        shutil.copytree(ROOT, tree, ignore=junk)
        print(f"mypyc: {', '.join(MODULES)} compiled in {prepare(tree):.0f} s")
        runs = [(flags, args.orders)]
        if not args.no_agents:
            runs.append((["--market-makers", "10", *flags], args.agents_orders))
        for extra, orders in runs:
            what = " ".join(extra) or "defaults"
            ratios = []
            for rep in range(1, args.reps + 1):
                load = os.getloadavg()[0]
                line = subprocess.run(
                    [sys.executable, "bench/mypyc_gain.py", "--compare", "--orders", str(orders)]
                    + ["--chunk", str(args.chunk), *extra],
                    cwd=tree,
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout.strip()
                ratios.append(float(_RATIO.findall(line)[-1]))
                print(f"{what}, rep {rep}, load {load:.1f}: {line}", flush=True)
            ratio = statistics.median(ratios)
            print(f"{what}: pure / compiled CPU per order, median of {args.reps}: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
