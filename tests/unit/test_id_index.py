"""The order window's index of old open orders: every id added is found at its slot, whatever
the order they come in, the collisions among them or how often the table grows; an id never
added is not found; and the table is sized by what it holds, not by the ids' range."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.id_index import IdIndex

pytestmark = pytest.mark.timeout(60)


def test_ids_added_in_pieces_and_any_order_are_found_at_their_slots():
    rng = np.random.default_rng(3)
    ids = rng.choice(10**9, 50_000, replace=False) + 1
    slots = rng.integers(0, 1 << 40, len(ids))
    index = IdIndex()
    for piece in np.array_split(np.arange(len(ids)), 37):  # grows many times on the way
        index.add(ids[piece], slots[piece])
    assert len(index) == len(ids)
    assert (index.find(ids) == slots).all()
    shuffled = rng.permutation(len(ids))
    assert (index.find(ids[shuffled]) == slots[shuffled]).all()
    never = np.setdiff1d(np.arange(1, 200_000), ids)
    assert (index.find(never) == -1).all()
    assert (index.find(np.array([0, -1, -5, 2**62], np.int64)) == -1).all()  # not ids: not found


def test_ids_sharing_a_home_place_in_one_call_are_all_kept():
    index = IdIndex()
    # ids a power of two apart far above the table's size: many fall on few home places
    ids = (np.arange(1, 1001, dtype=np.int64) << 32) + 7
    index.add(ids, ids * 3)
    assert (index.find(ids) == ids * 3).all()
    assert (index.find(ids + 1) == -1).all()


def test_an_id_open_for_the_whole_run_costs_an_entry_not_the_span_since():
    index = IdIndex(np.array([1], np.int64), np.array([5], np.int64))
    index.add(np.arange(10**9, 10**9 + 1000, dtype=np.int64), np.arange(1000))
    assert index.find(np.array([1, 10**9 + 999]))[0] == 5
    assert index.nbytes <= 64 * 1024  # the least table: 4,096 places of two int64s


def test_a_rebuilt_index_keeps_only_the_entries_asked_and_shrinks():
    ids = np.arange(1, 100_001, dtype=np.int64)
    index = IdIndex(ids, ids + 10)
    got_ids, got_slots = index.entries()
    keep = got_ids % 1000 == 0
    small = index.rebuilt(keep)
    assert len(small) == 100 and small.nbytes < index.nbytes
    assert (small.find(ids[999::1000]) == ids[999::1000] + 10).all()
    assert (small.find(ids[:999]) == -1).all()
    assert sorted(got_slots.tolist()) == (ids + 10).tolist()
