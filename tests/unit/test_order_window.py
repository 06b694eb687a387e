"""The order window: every open order is found by its id however long it rests, and the slots of
final ones are reused, so memory follows what is open."""

from __future__ import annotations

import numpy as np

from simulator import wire
from simulator.order_window import ACKED, FREE, WINDOW, OrderWindow


def _orders(first: int, n: int) -> np.ndarray:
    rows = np.zeros((n, wire.ORDER_WIDTH), np.int64)
    rows[:, 0] = np.arange(first, first + n)
    rows[:, 7] = 100
    return rows


def test_orders_resting_across_many_window_moves_are_all_found_and_final_ones_free_their_slots():
    w = OrderWindow()
    resting: list[int] = []
    oid = 1
    for round_ in range(40):
        n = WINDOW // 4
        rows = _orders(oid, n)
        w.put(rows, rows[:, 7], 0)
        slots = w.slots(rows[:, 0])
        assert slots is not None
        # all final but one in 64, which rests; and the oldest resting ones end now and then
        keep = rows[::64, 0]
        w.state[slots] = FREE
        w.state[w.slots(keep)] = ACKED
        resting += keep.tolist()
        if round_ % 5 == 4:
            ending, resting = resting[: len(resting) // 2], resting[len(resting) // 2 :]
            w.state[w.slots(np.array(ending, np.int64))] = FREE
        oid += n
    found = w.slots(np.array(resting, np.int64))
    assert found is not None and (w.state[found] == ACKED).all()
    assert [o for o, _r, _lv, _st in w.open_orders()] == resting
    assert w.slot(resting[0]) is not None and w.slot(2) is None  # 2 was final long ago
    # storage holds the window and about twice what rests, not every order ever left open
    assert len(w.state) <= WINDOW + 4 * len(resting) + 8192
