"""The order window: every open order is found by its id however long it rests, and the slots of
final ones are reused, so memory follows what is open."""

from __future__ import annotations

import numpy as np

from simulator import wire
from simulator.order_window import ACKED, FREE, HELD, SHOWN, TRIGGERED, WINDOW, OrderWindow


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


def test_what_an_order_was_given_moves_with_it_past_the_window_and_is_gone_when_its_slot_is_reused():
    w = OrderWindow()
    first = _orders(1, 8)
    w.put(first, first[:, 7], 0)
    slots = w.slots(first[:, 0])
    w.state[slots] = ACKED
    w.stamp[slots[:2]] = 77
    w.flags[slots[:2]] |= TRIGGERED | SHOWN
    w.shown[slots[:2]] = 40
    w.mark(np.array([2, 3, 10**12], np.int64), HELD)  # an id it does not hold is skipped
    w.state[slots[2:]] = FREE
    w.state[slots[1]] = FREE
    # order 1 rests while the window moves past it; order 2 is final and its slot is reused
    rows = _orders(9, WINDOW)
    w.put(rows, rows[:, 7], 0)
    (old,) = w.slots(np.array([1], np.int64))
    assert old >= WINDOW and w.stamp[old] == 77 and w.shown[old] == 40
    assert w.flags[old] == TRIGGERED | SHOWN
    reused = w.slots(np.array([2 + WINDOW, 3 + WINDOW], np.int64))
    assert (w.stamp[reused] == 0).all() and (w.flags[reused] == 0).all()
