"""Rows picked and written at numpy's fast paths give what plain advanced indexing gives."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.rows import put_rows, rows_at, rows_where


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 60), width=st.integers(1, 9), k=st.integers(0, 80))
def test_picked_and_written_rows_are_those_of_advanced_indexing(seed, n, width, k):
    rng = np.random.default_rng(seed)
    a = rng.integers(-(2**62), 2**62, (n, width), dtype=np.int64)
    mask = rng.random(n) < 0.5
    assert np.array_equal(rows_where(a, mask), a[mask])
    assert rows_where(a, mask).shape == (int(mask.sum()), width)
    if not n:
        return
    idx = rng.integers(0, n, k)  # repeats too: of a repeated index, the last row written stays
    assert np.array_equal(rows_at(a, idx), a[idx])
    rows = rng.integers(-(2**62), 2**62, (k, width), dtype=np.int64)
    plain, fast = a.copy(), a.copy()
    plain[idx] = rows
    put_rows(fast, idx, rows)
    assert np.array_equal(fast, plain)


def test_rows_written_into_a_strided_view_or_from_one_are_those_of_advanced_indexing():
    rng = np.random.default_rng(7)
    base = rng.integers(0, 1000, (40, 12), dtype=np.int64)
    idx = np.array([3, 0, 17, 3, 39])
    rows = rng.integers(0, 1000, (5, 24), dtype=np.int64)[:, ::4]  # not contiguous: 5 x 6
    plain, fast = base.copy(), base.copy()
    plain[:, ::2][idx] = rows  # into a strided view: the slow way, the same rows
    put_rows(fast[:, ::2], idx, rows)
    assert np.array_equal(fast, plain)
    plain, fast = base[:, :6].copy(), base[:, :6].copy()
    plain[idx] = rows
    put_rows(fast, idx, rows)
    assert np.array_equal(fast, plain)


def test_rows_of_the_wrong_width_are_refused_as_by_advanced_indexing():
    a = np.zeros((10, 9), np.int64)
    with pytest.raises(ValueError):
        put_rows(a, np.array([1, 2]), np.ones((3, 6), np.int64))  # 18 values: 2 rows of 9 if reshaped
    assert not a.any()
