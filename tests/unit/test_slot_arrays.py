"""The order window's growing arrays: growth keeps what they hold and zeroes what is new, in
place or (another view still alive) by a copy that leaves that view as it was."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from simulator.order_window import WINDOW, OrderWindow
from simulator.slot_arrays import SlotArrays

pytestmark = pytest.mark.timeout(60)


class _Owner:
    pass


def test_growing_keeps_the_rows_held_and_zeroes_the_new_ones():
    owner, arrays = _Owner(), SlotArrays()
    arrays.grow(owner, "table", np.int64, 3, 1000)
    arrays.grow(owner, "flags", np.int8, 0, 1000)
    owner.table[:] = np.arange(3000).reshape(1000, 3)  # type: ignore[attr-defined]
    owner.flags[:] = 7  # type: ignore[attr-defined]
    in_place = arrays._maps["table"][0]
    for rows in (5000, 1 << 20, 3 << 20):
        arrays.grow(owner, "table", np.int64, 3, rows)
        assert arrays._maps["table"][0] is in_place  # the same map, grown: nothing copied
        arrays.grow(owner, "flags", np.int8, 0, rows)
        table, flags = owner.table, owner.flags  # type: ignore[attr-defined]
        assert table.shape == (rows, 3) and flags.shape == (rows,)
        assert (table[:1000] == np.arange(3000).reshape(1000, 3)).all() and not table[1000:].any()
        assert (flags[:1000] == 7).all() and not flags[1000:].any()
        table[-1] = flags[-1] = 1  # the new rows are writable, to the last
        table[-1] = flags[-1] = 0
        del table, flags


def test_a_view_still_alive_is_left_as_it_was_and_the_array_grows_by_a_copy():
    owner, arrays = _Owner(), SlotArrays()
    arrays.grow(owner, "leaves", np.int64, 0, 100)
    owner.leaves[:] = 5  # type: ignore[attr-defined]
    kept = owner.leaves[:10]  # type: ignore[attr-defined]
    arrays.grow(owner, "leaves", np.int64, 0, 200)
    owner.leaves[:10] = 9  # type: ignore[attr-defined]
    assert (kept == 5).all()  # the old view still reads the old memory, intact
    assert (owner.leaves[10:100] == 5).all() and not owner.leaves[100:].any()  # type: ignore[attr-defined]
    del kept
    arrays.grow(owner, "leaves", np.int64, 0, 300)  # and in place again once it is gone
    assert (owner.leaves[:10] == 9).all() and (owner.leaves[10:100] == 5).all()  # type: ignore[attr-defined]


def test_scratch_starts_again_at_zero_and_a_copied_window_grows_apart():
    owner, arrays = _Owner(), SlotArrays()
    arrays.grow(owner, "scratch", np.int64, 0, 100, keep=False)
    owner.scratch[:] = 3  # type: ignore[attr-defined]
    arrays.grow(owner, "scratch", np.int64, 0, 200, keep=False)
    assert not owner.scratch.any()  # type: ignore[attr-defined]

    w = OrderWindow()
    w.leaves[:] = 4
    twin = copy.deepcopy(w)
    twin._grow(len(twin.state) + WINDOW)
    w._grow(len(w.state) + WINDOW)
    twin.leaves[0] = 8
    assert w.leaves[0] == 4 and (twin.leaves[1 : len(w.leaves) - WINDOW] == 4).all()
    assert not twin.leaves[len(w.leaves) - WINDOW :].any()
