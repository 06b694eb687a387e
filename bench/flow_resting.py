"""What the flow leaves resting over a long run: one broker holding every symbol, fed the flow.

    python bench/flow_resting.py --orders 12000000 --every 1000000
    python bench/flow_resting.py --orders 2000000 -- --symbols 100 --seed 3

The flags after ``--`` are simulate.py's (the flow's ratios, symbols, seed). Every ``--every``
new orders it prints what the books hold (resting orders, held stops) and, over those orders,
the cancels the flow sent per new order and the share of them refused because their order had
already traded (``ORDER_NOT_RESTING``). A soak at 20,000 orders/s for 600 s is 12 million new
orders: what rests then is what the bank keeps open. Pure model and broker, no processes.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import messages as msg  # noqa: E402
from simulator.broker import Broker  # noqa: E402
from simulator.config import config_from_args  # noqa: E402
from simulator.flow import OrderFlow  # noqa: E402
from simulator.orders import OrderType  # noqa: E402
from simulator.wire import EVENT_WIDTH, ORDER_WIDTH  # noqa: E402

_BATCH = 4096
_REJECT, _NOT_RESTING = 2, 5


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orders", type=int, default=12_000_000, help="new orders in all")
    ap.add_argument("--put-offs", type=int, default=None)
    ap.add_argument("--last-always", type=int, default=None)
    ap.add_argument("--every", type=int, default=1_000_000, help="new orders between rows")
    args, flags = ap.parse_known_args(argv)
    import simulator.flow as fl

    if args.put_offs is not None:
        fl.PUT_OFFS = args.put_offs
    if args.last_always is not None:
        fl.LAST_ALWAYS = bool(args.last_always)
    flags = [f for f in flags if f != "--"]
    config = config_from_args(["--headless", "--seed", "7", *flags])
    symbols = tuple(config.symbols)
    flow = OrderFlow.from_config(config)
    broker = Broker(msg.BrokerSpec(0, "b", symbols, tuple(range(len(symbols)))))
    cancel = int(OrderType.CANCEL)
    print(f"symbols {len(symbols):,}, seed {config.seed}")
    print(f"{'orders':>12} {'resting':>9} {'held':>7} {'cancels/order':>14} {'refused':>8} {'s':>6}")
    done = since = cancels = refused = 0
    t = time.process_time()
    while done < args.orders:
        rows = flow.generate(_BATCH)
        out: list[int] = []
        broker.handle_orders(rows.ravel().tolist(), out)
        cancels += int((rows[:, 4] == cancel).sum())
        ev = out[0::EVENT_WIDTH], out[2::EVENT_WIDTH]
        refused += sum(1 for kind, reason in zip(*ev) if kind == _REJECT and reason == _NOT_RESTING)
        done += _BATCH
        since += _BATCH
        if since >= args.every or done >= args.orders:
            resting = sum(b.order_count for b in broker.books.values())
            held = sum(len(b.held) for b in broker.books.values())
            share = refused / cancels if cancels else 0.0
            print(f"{done:>12,} {resting:>9,} {held:>7,} {cancels / since:>14.3f} {share:>8.3f} "
                  f"{time.process_time() - t:>6.1f}")  # fmt: skip
            since = cancels = refused = 0
    assert ORDER_WIDTH == rows.shape[1]
    return 0


if __name__ == "__main__":
    sys.exit(main())
