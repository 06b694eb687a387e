"""The order window: every open order is found by its id however long it rests, and the slots of
final ones are reused, so memory follows what is open."""

from __future__ import annotations

import numpy as np
import pytest

from simulator import wire
from simulator.agents import AGENT_BASE, MOMENTUM_SLOT, SLOTS
from simulator.order_window import ACKED, FREE, HELD, SENT, SHOWN, TRIGGERED, WINDOW, OrderWindow


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


def _open(w: OrderWindow, ids: np.ndarray) -> list[bool]:
    """Whether the window holds each id open: found, at a slot not final, holding that id."""
    at = w.find(ids)
    return [
        bool(s >= 0 and w.state[s] != FREE and w.record[s, 0] == i) for i, s in zip(ids.tolist(), at.tolist())
    ]


@pytest.mark.parametrize("seed", range(4))
def test_agents_orders_are_found_by_id_beside_the_flows_and_old_ones_as_a_plain_set_of_open_ids_says(seed):
    rng = np.random.default_rng(seed)
    w = OrderWindow()
    is_open: set[int] = set()
    oid, trigger = 1, 1
    for _round in range(30):
        # the flow: a piece of the window's ids, one in eight left resting (some move past it)
        rows = _orders(oid, WINDOW // 8)
        w.put(rows, rows[:, 7], 0)
        w.state[w.slots(rows[:, 0])] = FREE
        resting = rows[::8, 0]
        w.state[w.slots(resting)] = ACKED
        is_open.update(resting.tolist())
        oid += WINDOW // 8
        # two brokers' agents: each batch's ids rising, the two batches' ranges overlapping
        for _broker in range(2):
            ids = AGENT_BASE + np.sort(
                rng.choice(np.arange(trigger, trigger + 400) * SLOTS, 60, replace=False)
            )
            ids += rng.integers(0, MOMENTUM_SLOT, 60)
            ids = np.unique(ids)
            if rng.random() < 0.2:
                ids = rng.permutation(ids)  # any order
            agents = _orders(0, len(ids))
            agents[:, 0] = ids
            fresh = [i not in is_open for i in ids.tolist()]
            at = w.put_agents(agents, agents[:, 7], ACKED)
            assert (at is not None) == all(fresh)
            if at is not None:
                is_open.update(ids.tolist())
        trigger += 300
        # orders end: flow ones and agents' alike
        ending = rng.choice(sorted(is_open), len(is_open) // 3, replace=False)
        w.state[w.slots(ending)] = FREE
        is_open.difference_update(ending.tolist())
        asked = np.concatenate(
            (
                np.array(sorted(is_open), np.int64),
                ending,
                rng.integers(-5, oid + 10, 50),  # the flow's ids, and a few never placed
                AGENT_BASE + rng.integers(0, trigger * SLOTS, 50),  # agents' ids, mostly never placed
            )
        )
        asked = rng.permutation(asked)
        assert _open(w, asked) == [i in is_open for i in asked.tolist()]
    assert sorted(is_open) == w.open_slots()[0].tolist()


def test_an_agents_id_open_already_is_refused_and_one_final_is_placed_again():
    w = OrderWindow()
    agents = _orders(0, 3)
    agents[:, 0] = AGENT_BASE + np.array([5, 9, 12])
    at = w.put_agents(agents, agents[:, 7], ACKED)
    assert at is not None
    again = agents[[1]]
    assert w.put_agents(again, again[:, 7], ACKED) is None  # 9 is open
    w.state[at[1]] = FREE
    assert w.put_agents(again, again[:, 7], SENT) is not None  # 9 ended: placed again
    assert _open(w, agents[:, 0]) == [True, True, True]
    assert w.state[w.find(agents[[1], 0])[0]] == SENT
    twice = _orders(0, 2)
    twice[:, 0] = AGENT_BASE + 100
    assert w.put_agents(twice, twice[:, 7], ACKED) is None
