"""The fills digest keeps its definition however fills arrive: many symbols interleaved, logs
hashed part way, one fill at a time or a batch at a time."""

from __future__ import annotations

import hashlib
import struct

import numpy as np

from simulator.fills_digest import FillsDigest


def _by_definition(symbols: tuple[str, ...], fills: dict[int, list[tuple]]) -> str:
    outer = hashlib.sha256()
    for i in sorted(range(len(symbols)), key=symbols.__getitem__):
        rows = fills.get(i, [])
        inner = hashlib.sha256(struct.pack(f"{5 * len(rows)}q", *[x for f in rows for x in f]))
        outer.update(f"{symbols[i]}:{inner.hexdigest()}\n".encode())
    return outer.hexdigest()


def test_batches_of_many_symbols_past_several_logs_give_the_digest_of_its_definition():
    rng = np.random.default_rng(9)
    symbols = tuple(f"S{i:04d}" for i in range(3000))[::-1]  # names not in index order
    digest, one_by_one = FillsDigest(symbols), FillsDigest(symbols)
    fills: dict[int, list[tuple]] = {}
    seq = 0
    for _ in range(30):  # 30 batches of up to 20,000: past the log's 32,768 fills at 3,000 symbols
        n = int(rng.integers(1, 20_000))
        sym = rng.integers(0, 2000, n)  # a third of the symbols never trade
        rows = np.empty((n, 5), np.int64)
        rows[:, 0] = seq + np.arange(n)
        rows[:, 1:] = rng.integers(1, 10**9, (n, 4))
        seq += n
        digest.update_many(sym, rows)
        for s, row in zip(sym.tolist(), rows.tolist()):
            fills.setdefault(s, []).append(tuple(row))
            one_by_one.add(s, row)
    want = _by_definition(symbols, fills)
    assert digest.hexdigest() == want == one_by_one.hexdigest()
    digest.update(5, np.array([[seq, 1, 2, 3, 4]], np.int64))  # and it goes on after a digest
    fills.setdefault(5, []).append((seq, 1, 2, 3, 4))
    assert digest.hexdigest() == _by_definition(symbols, fills)


def test_the_log_is_sized_by_the_symbols_and_stays_so_however_many_fills_pass():
    few, many = FillsDigest([f"S{i}" for i in range(8)]), FillsDigest([f"S{i}" for i in range(100_000)])
    held = few.nbytes
    assert held <= 256 * 1024  # 8 symbols: a few thousand fills, not 5 MiB resident for nothing
    assert many.nbytes >= 16 * held  # many symbols: a long log, so a hash call covers many fills
    rng = np.random.default_rng(3)
    fills: dict[int, list[tuple]] = {}
    for start in range(0, 200_000, 5_000):  # fifty times the log
        sym = rng.integers(0, 8, 5_000)
        rows = np.empty((5_000, 5), np.int64)
        rows[:, 0] = start + np.arange(5_000)
        rows[:, 1:] = rng.integers(1, 10**9, (5_000, 4))
        few.update_many(sym, rows)
        for s, row in zip(sym.tolist(), rows.tolist()):
            fills.setdefault(s, []).append(tuple(row))
        assert few.nbytes == held
    assert few.hexdigest() == _by_definition(few.symbols, fills)
