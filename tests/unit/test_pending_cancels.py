"""The flow's waiting cancel candidates: found exactly by the symbol count they die at."""

from __future__ import annotations

import tracemalloc

import numpy as np

from simulator.pending_cancels import OID, SYM, WIDTH, PendingCancels


def _rows(sym: np.ndarray, oid: np.ndarray) -> np.ndarray:
    rows = np.zeros((len(sym), WIDTH), np.int64)
    rows[:, SYM], rows[:, OID] = sym, oid
    return rows


def test_take_returns_exactly_the_candidates_dying_at_the_counts_made_like_a_plain_list():
    rng = np.random.default_rng(3)
    nsym = 5
    pending = PendingCancels(nsym)
    reference: list[tuple[int, int, int]] = []  # (sym, death, oid)
    made = np.zeros(nsym, np.int64)
    oid = 0
    for _block in range(300):
        sym = rng.integers(0, nsym, int(rng.integers(0, 400)))
        counts = np.bincount(sym, minlength=nsym)
        # this block's counts, per candidate in block order
        seen = np.zeros(nsym, np.int64)
        count = np.empty(len(sym), np.int64)
        for i, s in enumerate(sym.tolist()):
            count[i] = made[s] + seen[s]
            seen[s] += 1
        made_after = made + counts
        rows, death = pending.take(sym, count, made_after)
        got = sorted(zip(rows[:, SYM].tolist(), death.tolist(), rows[:, OID].tolist()))
        want = sorted(r for r in reference if r[1] < made_after[r[0]])
        assert got == want
        reference = [r for r in reference if r[1] >= made_after[r[0]]]
        # new candidates, dying 1..512 counts later: many share a (symbol, death)
        deaths = count + rng.integers(1, 513, len(sym))
        waits = deaths >= made_after[sym]
        oids = oid + np.arange(len(sym))
        oid += len(sym)
        pending.add(sym[waits], deaths[waits], _rows(sym[waits], oids[waits]))
        reference += zip(sym[waits].tolist(), deaths[waits].tolist(), oids[waits].tolist())
        made = made_after
        assert len(pending) == len(reference)
    assert len(reference) > 1000  # the slab and the table grew along the way


def test_memory_follows_what_waits_not_the_symbols():
    sym = np.arange(0, 10**6, 1000, dtype=np.int64)
    rows = _rows(sym, sym)
    tracemalloc.start()
    try:
        pending = PendingCancels(10**6)
        pending.add(sym, np.full(len(sym), 5, np.int64), rows)
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(pending) == len(sym)
    assert peak < 1 << 20  # a million symbols, a thousand waiting: well under a MiB
