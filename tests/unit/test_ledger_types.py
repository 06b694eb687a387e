"""The ledger's booking of amends, triggers and iceberg refills (``ledger_types.py``) books
whole batches as one by one in their order would, for orders in the window and for old ones in
its overflow alike: repeats (the later event wins), unknown ids, final orders and kinds it does
not know included."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest

from simulator import wire
from simulator.ledger_types import TypeLedger
from simulator.order_window import ACKED, FREE, SENT, SHOWN, TRIGGERED, WINDOW, OrderWindow
from simulator.orders import STAMP_SHIFT, Event, OrderType

pytestmark = pytest.mark.timeout(120)

_AMENDED, _TRIGGERED, _SHOWN = int(Event.AMENDED), int(Event.TRIGGERED), int(Event.SHOWN)
_UNKNOWN_KIND = 11


def _reference(rows: list, window: OrderWindow, counts: dict) -> None:
    """The booking one event at a time, each id looked up alone."""
    state, record = window.state, window.record
    for k, a, b, _c, d, e, f in rows:
        slot = window.slot(a)
        if slot is None or state[slot] == FREE:
            counts["unknown"] += 1
        elif k == _AMENDED:
            target = window.slot(b)
            if (
                state[slot] != SENT
                or record[slot, 4] != int(OrderType.CANCEL)
                or target is None
                or state[target] == FREE
            ):
                counts["unknown"] += 1
                continue
            state[slot] = FREE
            counts["cancels_done"] += 1
            counts["amends"] += 1
            window.leaves[target] += e
            record[target, 6] = d
            if f:
                window.stamp[target] = f
        elif k == _TRIGGERED:
            window.flags[slot] |= TRIGGERED
            window.stamp[slot] = b
            counts["triggers"] += 1
        elif k == _SHOWN:
            window.shown[slot] = b
            window.flags[slot] |= SHOWN
            window.stamp[slot] = d
            counts["refills"] += d != a << STAMP_SHIFT
        else:
            counts["unknown"] += 1


def _window(rng: np.random.Generator) -> tuple[OrderWindow, np.ndarray, np.ndarray]:
    """A window whose older orders (a few thousand open, many final) moved past it to its
    overflow; the open orders' and the cancel requests' ids."""
    w = OrderWindow()
    oid = 1
    for _ in range(6):  # the window moves past the first ones several times
        n = WINDOW // 2 - 1
        rows = np.zeros((n, wire.ORDER_WIDTH), np.int64)
        rows[:, 0] = np.arange(oid, oid + n)
        rows[:, 7] = 100
        cancel = rng.random(n) < 0.1
        rows[cancel, 4] = int(OrderType.CANCEL)
        w.put(rows, np.where(cancel, 0, rows[:, 7]), 0)
        slots = w.slots(rows[:, 0])
        assert slots is not None
        w.state[slots] = np.where(rng.random(n) < 0.97, FREE, np.where(cancel, SENT, ACKED))
        oid += n
    ids, slots = w.open_slots()
    requests = ids[w.record[slots, 4] == int(OrderType.CANCEL)]
    return w, ids, requests


def _events(rng: np.random.Generator, open_ids: np.ndarray, requests: np.ndarray, hi: int) -> np.ndarray:
    n = 3000
    named = np.where(  # mostly open orders (a few named twice or more), some final or never held
        rng.random(n) < 0.9, rng.choice(open_ids, n), rng.integers(-5, hi + 1000, n)
    )
    kind = rng.choice([_SHOWN, _TRIGGERED, _AMENDED, _UNKNOWN_KIND], n, p=[0.45, 0.3, 0.2, 0.05])
    ev = np.zeros((n, wire.EVENT_WIDTH), np.int64)
    ev[:, 0], ev[:, 1] = kind, named
    stamp = (rng.choice(open_ids, n) << STAMP_SHIFT) + rng.integers(0, 3, n)
    ev[:, 2] = np.where(kind == _SHOWN, rng.integers(1, 100, n), stamp)
    ev[:, 4] = np.where(kind == _SHOWN, np.where(rng.random(n) < 0.5, named << STAMP_SHIFT, stamp), 0)
    amend = kind == _AMENDED
    ev[amend, 1] = np.where(rng.random(amend.sum()) < 0.9, rng.choice(requests, amend.sum()), named[amend])
    ev[amend, 2] = rng.choice(open_ids, amend.sum())
    ev[amend, 4] = rng.integers(100, 200, amend.sum())
    ev[amend, 5] = rng.integers(-50, 50, amend.sum())
    ev[amend, 6] = np.where(rng.random(amend.sum()) < 0.5, 0, stamp[amend])
    return ev


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_batch_of_amends_triggers_and_refills_is_booked_as_event_by_event(seed):
    rng = np.random.default_rng(seed)
    window, open_ids, requests = _window(rng)
    assert (open_ids < window.lo).sum() > 1000  # many of them in the overflow
    ev = _events(rng, open_ids, requests, window.hi)
    expected = copy.deepcopy(window)
    counts = dict.fromkeys(("unknown", "cancels_done", "amends", "triggers", "refills"), 0)
    kinds = ev[:, 0]
    for group in (kinds == _SHOWN, kinds == _TRIGGERED, (kinds == _AMENDED) | (kinds == _UNKNOWN_KIND)):
        _reference(ev[group].tolist(), expected, counts)

    ledger = SimpleNamespace(
        agents=SimpleNamespace(count=0), outside=SimpleNamespace(anchor=lambda m: None), unknown_events=0
    )
    ledger.cancels_done = 0
    types = TypeLedger()
    rest = types.take(ev, window, ledger)
    assert len(rest) == 0
    assert counts["unknown"] > 0 and counts["amends"] > 0 and counts["refills"] > 0  # all seen
    got = {
        "unknown": ledger.unknown_events,
        "cancels_done": ledger.cancels_done,
        "amends": types.amends_done,
        "triggers": types.triggers,
        "refills": types.refills,
    }
    assert got == counts
    for name in ("state", "record", "leaves", "stamp", "shown", "flags"):
        assert np.array_equal(getattr(window, name), getattr(expected, name)), name
