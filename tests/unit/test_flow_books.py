"""What the default flow leaves in a broker's books over a long run: bounded, not growing.

Every order of the flow that can rest gets a last cancel (an expiry, a late one, a stop's), so
a book holds about what a few lifetimes of orders leave. Before, an expiry skipped once was
never sent again and stops that cannot rest were never cancelled: at 400,000 orders on two
symbols the books held about 1,050 resting orders and 470 held stops, still growing; a soak's
bank kept each one open.
"""

from __future__ import annotations

from simulator import messages as msg
from simulator.broker import Broker
from simulator.config import config_from_args
from simulator.flow import DAY_ORDER_LIFETIME, OrderFlow

SYMBOLS = "AAA,BBB"
CHUNK = 20_000


def _samples(seed: int, chunks: int) -> list[tuple[int, int]]:
    """(resting, held stops) of one broker after each chunk of the default flow."""
    config = config_from_args(["--headless", "--seed", str(seed), "--symbols", SYMBOLS, "--brokers", "1"])
    flow = OrderFlow.from_config(config)
    broker = Broker(msg.BrokerSpec(0, "b", tuple(config.symbols), tuple(range(len(config.symbols)))))
    out = []
    for _ in range(chunks):
        broker.handle_orders(flow.generate(CHUNK).ravel().tolist(), [])
        books = broker.books.values()
        out.append((sum(b.order_count for b in books), sum(len(b.held) for b in books)))
    return out


def test_the_default_flow_leaves_a_bounded_book_and_few_held_stops():
    samples = _samples(5, 20)
    resting = [r for r, _ in samples]
    held = [h for _, h in samples]
    assert min(resting) > 100  # the books are not empty: orders do rest
    # every resting order is cancelled within two lifetimes of its symbol's DAY orders; most
    # have traded before (the old flow: 1,283 here, and growing)
    assert max(resting) < 0.8 * len(SYMBOLS.split(",")) * DAY_ORDER_LIFETIME
    assert max(held) < 100
    # and the late half holds no more than the early one, give or take the walk's noise
    assert max(resting[10:]) < 1.5 * max(resting[:10])


def test_held_stops_stay_few_with_another_seed():
    held = [h for _, h in _samples(11, 10)]
    assert max(held) < 100
