"""Positions: the sparse store (many accounts or symbols) holds exactly what a dense grid would."""

from __future__ import annotations

import numpy as np

from simulator.positions import DENSE_MOST, Positions


def test_sparse_positions_agree_with_a_dense_grid_through_many_merges():
    nsym, accounts = 40, DENSE_MOST // 20  # twice the cells a dense store takes
    rng = np.random.default_rng(5)
    positions = Positions(nsym, accounts)
    assert not positions.dense
    grid = np.zeros((nsym, accounts), np.int64)
    touched = rng.integers(0, accounts, 300)  # few accounts trade: cells repeat and go back to 0
    for _ in range(200):
        n = int(rng.integers(1, 3000))
        sym = rng.integers(0, nsym, n)
        buyer, seller = touched[rng.integers(0, 300, n)], touched[rng.integers(0, 300, n)]
        qty = 100 * rng.integers(1, 11, n)
        positions.add(
            np.concatenate((sym, sym)), np.concatenate((buyer, seller)), np.concatenate((qty, -qty))
        )
        np.add.at(grid, (sym, buyer), qty)
        np.add.at(grid, (sym, seller), -qty)
    for s in (0, 17, nsym - 1):
        assert positions.of_symbol(s) == grid[s].tolist()
    assert positions.balanced()
    assert positions.cells_held == np.count_nonzero(grid)
    mark = rng.integers(1, 10_000, nsym)
    assert positions.marked(mark).tolist() == (mark @ grid).tolist()  # what the report's P&L reads
    a = int(touched[0])
    held = positions.of_accounts([a, 0])
    assert held[a] == {s: int(grid[s, a]) for s in np.flatnonzero(grid[:, a]).tolist()}
    assert held[0] == {s: int(grid[s, 0]) for s in np.flatnonzero(grid[:, 0]).tolist()}
    positions.add([3], [touched[0]], [100])  # one share moved from nowhere: out of balance
    assert not positions.balanced()


def test_a_million_accounts_of_many_symbols_cost_what_is_held():
    positions = Positions(100_000, 1_000_000)
    positions.add([99_999, 99_999], [0, 999_999], [500, -500])
    assert positions.cells_held == 2 and positions.balanced()


def test_dense_and_sparse_stores_mark_and_list_holdings_alike(monkeypatch):
    nsym, accounts = 300, 50
    rng = np.random.default_rng(11)
    dense = Positions(nsym, accounts)
    monkeypatch.setattr("simulator.positions.DENSE_MOST", 0)
    sparse = Positions(nsym, accounts)
    assert dense.dense and not sparse.dense
    grid = np.zeros((nsym, accounts), np.int64)
    n = 5000
    sym, buyer, seller = rng.integers(0, nsym, n), rng.integers(0, accounts, n), rng.integers(0, accounts, n)
    qty = 100 * rng.integers(1, 11, n)
    for p in (dense, sparse):
        p.move(sym, buyer, seller, qty)
    np.add.at(grid, (sym, buyer), qty)
    np.add.at(grid, (sym, seller), -qty)
    mark = rng.integers(1, 10_000, nsym)
    expected_value = [int(np.dot(mark, grid[:, a])) for a in range(accounts)]
    wanted = [7, 3, 49, 3, 0]
    acct, symbol = np.nonzero(grid.T)  # by account, then symbol
    keep = np.isin(acct, wanted)
    expected = (acct[keep].tolist(), symbol[keep].tolist(), grid[symbol[keep], acct[keep]].tolist())
    for p in (dense, sparse):
        assert p.marked(mark).tolist() == expected_value
        assert tuple(x.tolist() for x in p.holdings(wanted)) == expected
