"""What the report's per-symbol figures cost the bank: the share of ``ledger.apply`` spent in
``TradedDigest.count_trades``, measured in the same run (a ratio, so a shared machine matters
less than in a comparison of two runs).

    python bench/report_cost.py
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from simulator import wire  # noqa: E402
from simulator.config import generated_symbols  # noqa: E402
from simulator.flow import OrderFlow  # noqa: E402
from simulator.ledger import Ledger  # noqa: E402
from simulator.stats import LatencyHistogram  # noqa: E402
from simulator.symbol_stats import TradedDigest  # noqa: E402
from tests.unit.test_ledger import broker_events, broker_for  # noqa: E402

BATCHES, PER_BATCH, RUNS = 300, 1024, 7


def share_of_counting(batches: list, symbols: tuple[str, ...]) -> float:
    real = TradedDigest.count_trades
    counted = 0.0

    def timed(self: TradedDigest, *args: object) -> None:
        nonlocal counted
        t = time.perf_counter()
        real(self, *args)  # type: ignore[arg-type]
        counted += time.perf_counter() - t

    TradedDigest.count_trades = timed  # type: ignore[method-assign]
    try:
        ledger = Ledger(symbols, 100)
        ack, final = LatencyHistogram(), LatencyHistogram()
        spent = 0.0
        for i, (rows, events) in enumerate(batches):
            ledger.place(rows, i * 1000, 10)
            t = time.perf_counter()
            ledger.apply(events, i * 1000 + 500, ack, final)
            spent += time.perf_counter() - t
    finally:
        TradedDigest.count_trades = real  # type: ignore[method-assign]
    return counted / spent


def main() -> None:
    for nsym in (8, 200):
        symbols = generated_symbols(nsym)
        flow = OrderFlow(symbols, seed=7, accounts=100)
        broker = broker_for(symbols)
        batches = []
        for _ in range(BATCHES):
            rows = flow.generate(PER_BATCH)
            batches.append((rows, broker_events(broker, rows).reshape(-1, wire.EVENT_WIDTH)))
        share = statistics.median(share_of_counting(batches, symbols) for _ in range(RUNS))
        print(
            f"{nsym} symbols: count_trades is {100 * share:.1f}% of ledger.apply "
            f"(median of {RUNS}, {BATCHES} batches of {PER_BATCH} orders)"
        )


if __name__ == "__main__":
    main()
