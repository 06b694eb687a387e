"""What the market makers cost a broker, split: the desks' logic against matching their orders.

    python bench/agents_floor.py                    # 10 makers, about 1M flow orders, 3 reps
    python bench/agents_floor.py --orders 400000 --reps 5 --market-makers 10 --mm-refresh 5

One broker in this process holds every symbol's book (the watched symbol's through the tape, as
in a run) and matches the same flow three ways, timed in CPU seconds: the flow alone; the flow
with its agents' desks; and the flow with the orders those desks made put in the inbox right
behind the order that made them, to a broker with no desks. The last matches the same orders
as the second but runs no desk logic: its ratio to the flow alone is what the agents' orders
themselves (matching them, and the trades the makers' quotes bring) leave of the throughput
even with a desk that cost nothing. Then the bank's side: a ledger books the same batches and
the events the broker sent back, without agents and with them (the bank is one process for
all brokers, so its share counts twice). Ratios are taken within a repetition; medians printed.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import agent_flags, agent_records, agents  # noqa: E402
from simulator import messages as msg  # noqa: E402
from simulator.broker import Broker  # noqa: E402
from simulator.config import config_from_args  # noqa: E402
from simulator.flow import OrderFlow  # noqa: E402
from simulator.ledger import Ledger  # noqa: E402
from simulator.stats import LatencyHistogram  # noqa: E402
from simulator.wire import EVENT_WIDTH, ORDER_WIDTH  # noqa: E402

_BATCH = 256
_CANCEL = 2  # OrderType.CANCEL: the flow's cancel requests


def timed(broker: Broker, batches: list[list[int]], keep: list | None = None) -> float:
    """CPU seconds to match ``batches``; the collector off, as good as a broker's (which freezes
    what it starts with and collects rarely): the batches and events kept are no garbage."""
    gc.collect()
    gc.disable()
    t = time.process_time()
    for flat in batches:
        out: list = []
        broker.handle_orders(flat, out)
        if keep is not None:
            keep.append(out)
    t = time.process_time() - t
    gc.enable()
    return t


def booked(config, params, batches: list[list[int]], outs: list[list[int]]) -> float:
    """CPU seconds for a bank's ledger to place ``batches`` and book the events ``outs``."""
    ledger = Ledger(config.symbols, config.accounts + 1 + (params.count if params else 0), params)
    orders = [np.array(b, np.int64) for b in batches]
    events = [np.array(o, np.int64) for o in outs]
    acks, finals = LatencyHistogram(), LatencyHistogram()
    gc.collect()
    gc.disable()
    t = time.process_time()
    for rows, ev in zip(orders, events):
        ledger.place(rows, 1000)
        ledger.apply(ev, 2000, acks, finals)
    t = time.process_time() - t
    gc.enable()
    assert ledger.unknown_events == 0
    return t


def with_agents_orders(flat: list[int], out: list[int]) -> list[int]:
    """The batch with each agent order its events name (AGENT_ORDER) behind its trigger."""
    made: dict[int, list[int]] = {}
    for k in range(0, len(out), 7):
        if out[k] == agent_records.AGENT_ORDER:
            oid, account, packed, price, qty, last = out[k + 1 : k + 7]
            sym, side, otype, tif = agent_records.unpack_kind(packed)
            target = last if otype == 2 else 0  # a cancel's target; else the stamp, not sent
            price = 0 if otype == 2 else price  # a cancel's: the leaves it cancelled (agents.py)
            made.setdefault(agents.trigger_of(oid), []).extend(
                (oid, account, sym, side, otype, tif, price, qty, target)
            )
    rows: list[int] = []
    for i in range(0, len(flat), ORDER_WIDTH):
        rows += flat[i : i + ORDER_WIDTH]
        rows += made.get(flat[i], ())
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=1_000_000, help="flow orders per repetition")
    ap.add_argument("--reps", type=int, default=3)
    args, flags = ap.parse_known_args(argv)
    config = config_from_args(["--headless", "--market-makers", "10", *flags])
    symbols = tuple(config.symbols)
    params = agent_flags.params(config, config.accounts + 1)
    names = ("flow", "desks", "no_desk", "messages", "events", "events_agents", "bank", "bank_agents")
    rows: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(args.reps):
        flow = OrderFlow.from_config(config)
        batches = [flow.generate(_BATCH).ravel().tolist() for _ in range(args.orders // _BATCH)]
        # flow orders as a run counts them (--orders N, the bench rows): its cancels are no orders
        n = sum(len(b) // ORDER_WIDTH - b[4::ORDER_WIDTH].count(_CANCEL) for b in batches)

        def broker(with_desks: bool) -> Broker:
            ids = tuple(range(len(symbols)))
            b = Broker(msg.BrokerSpec(0, "b", symbols, ids, agents=params if with_desks else None))
            b.watch(symbols[0])
            return b

        # the events of both, made untimed: a timed pass that kept them would pay for the
        # heap's growth that the passes after it reuse (the first one timed read 2x slower)
        outs: list = []
        desks = broker(True)
        timed(desks, batches, outs)
        made = sum(d.orders for d in desks.desks.values())
        combined = [with_agents_orders(b, o) for b, o in zip(batches, outs)]
        plain: list = []
        timed(broker(False), batches, plain)
        rows["events"].append(sum(len(o) for o in plain) / EVENT_WIDTH / n)
        rows["events_agents"].append(sum(len(o) for o in outs) / EVENT_WIDTH / n)
        rows["bank"].append(booked(config, None, batches, plain) / n * 1e6)
        rows["bank_agents"].append(booked(config, params, batches, outs) / n * 1e6)
        del outs, plain
        # the three timed alike, nothing kept, in an order turned each repetition
        cases = {
            "desks": (True, batches),
            "flow": (False, batches),
            "no_desk": (False, combined),
        }
        t: dict[str, float] = {}
        for name in list(cases)[rep % 3 :] + list(cases)[: rep % 3]:
            with_desks, matched = cases[name]
            t[name] = timed(broker(with_desks), matched)
        t_desks, t_flow, t_plain = t["desks"], t["flow"], t["no_desk"]
        rows["flow"].append(t_flow / n * 1e6)
        rows["desks"].append(t_desks / n * 1e6)
        rows["no_desk"].append(t_plain / n * 1e6)
        rows["messages"].append(made / n)
        print(
            f"rep {rep + 1}: {n:,} flow orders; us CPU per flow order: flow {rows['flow'][-1]:.2f}, "
            f"with desks {rows['desks'][-1]:.2f}, their orders with no desk {rows['no_desk'][-1]:.2f}; "
            f"{made / n:.2f} agent messages per flow order; the bank's ledger {rows['bank'][-1]:.2f}, "
            f"with the agents' events {rows['bank_agents'][-1]:.2f}",
            flush=True,
        )
    med = {k: statistics.median(v) for k, v in rows.items()}
    ratio = [f / d for f, d in zip(rows["flow"], rows["desks"])]
    floor = [f / p for f, p in zip(rows["flow"], rows["no_desk"])]
    print(f"one broker, {' '.join(flags) or 'defaults'} (medians of {args.reps}):")
    print(f"{'  agent messages per flow order':<58} {med['messages']:.2f}")
    print(f"{'  throughput with the desks / the flow alone':<58} {statistics.median(ratio):.3f}")
    print(f"{'  the same orders with no desk logic / the flow alone':<58} {statistics.median(floor):.3f}")
    events = f"{med['events']:.2f} -> {med['events_agents']:.2f}"
    print(f"{'  event records the bank books per flow order: flow -> with agents':<58} {events}")
    bank = [a / b for a, b in zip(rows["bank"], rows["bank_agents"])]
    print(f"{'  the bank booking them / booking the flow alone':<58} {statistics.median(bank):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
