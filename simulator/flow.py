"""The order-flow generator: what the bank's clients send, as a seeded, open-loop stream.

Pure model: it owns a ``numpy.random.Generator`` built from the seed and reads no clock, no
fills, no pipe. The n-th message therefore depends only on the seed and the flow parameters,
never on timing, batch size or the number of brokers; since each symbol's orders reach its one
book in this order, the fills are fixed by the seed too.

Each symbol has a reference price that walks one tick at a time. Limit prices fall around it,
mostly on the passive side, sometimes crossing; a share of messages cancel an earlier resting
candidate of the same symbol; a share are market orders, a share immediate-or-cancel, and a
share are made invalid on purpose (quantity 0, a negative price, an unknown symbol) so rejects
can be seen. A DAY order lives until ``DAY_ORDER_LIFETIME`` newer DAY orders of its symbol
exist; then the flow cancels it (if it still rests), so the books stay bounded in a long run.

The stream is the bank's biggest cost, so it is built with numpy, ``_BLOCK`` new orders at a
time, as int64 rows in the wire's order layout (``simulator.wire``)::

    oid, account, sym, side, otype, tif, price, qty, target

``generate(n)`` hands out the next ``n`` new orders from those blocks, each followed by the
cancels its arrival triggers, so any chunking of the calls gives the same stream.

How a block is made (every step is an array operation over the block):

* the new orders: symbol, account, side, quantity, type, time in force, price offset and
  flaws are drawn independently per order;
* the walk: each new order moves its symbol's reference by -1, 0 or +1 tick (1/4, 1/2, 1/4),
  never below ``_FLOOR``: per symbol a cumulative sum, held up at the floor by a running
  maximum (the walk reflected at the floor);
* the cancels: a valid LIMIT DAY order is a *candidate*. When it is made, its fate is drawn:
  with probability ``_fate_share`` a random cancel after ``U{1..LIFETIME-1}`` newer candidates
  of its symbol, otherwise expiry after ``DAY_ORDER_LIFETIME`` of them. Either way the cancel
  follows the candidate whose arrival brings that count. Drawing the age at birth rather than
  the target at cancel time gives the same picture (a cancel hits a random one of the last
  ``LIFETIME`` DAY orders of its symbol) but never cancels an order twice, and an order
  cancelled at random is not expired again. An expiry is only sent if the order is likely still
  resting: the walk has left its price behind (``side * (ref - price) > 3``). Candidates whose
  cancel falls in a later block wait in ``_pending``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from simulator import wire
from simulator.orders import OrderType, TimeInForce

UNKNOWN_SYMBOL = wire.UNKNOWN_SYMBOL_NAME  # how ``as_tuples`` names wire.UNKNOWN_SYM
DAY_ORDER_LIFETIME = 512  # per symbol: a DAY order is cancelled once this many newer ones exist

_LIMIT, _MARKET, _CANCEL = int(OrderType.LIMIT), int(OrderType.MARKET), int(OrderType.CANCEL)
_DAY, _IOC = int(TimeInForce.DAY), int(TimeInForce.IOC)

# New orders per block: big enough that numpy's per-call overhead is small per order, small
# enough that making one (a few ms) does not stall the bank's loop noticeably.
_BLOCK = 2048
_FLOOR = 200  # ticks: the reference price never walks below $2
# Keeps symbols apart in one running maximum over the symbol-sorted block: far above any
# excursion of a walk within one block.
_GROUP_GAP = 1 << 40
# Columns of ``_pending``: candidates (valid DAY limit orders) whose cancel or expiry is still to
# come, in the order they were made (which is oid order).
_P_SYM, _P_DEATH, _P_OID, _P_ACCOUNT, _P_SIDE, _P_PRICE, _P_RANDOM = range(7)


def _candidate_share(market_ratio: float, ioc_ratio: float, invalid_ratio: float) -> float:
    """The share of new orders that are valid DAY limit orders: the ones a client may cancel."""
    return (1 - market_ratio) * (1 - ioc_ratio) * (1 - invalid_ratio)


class FlowSettings(Protocol):
    """What ``OrderFlow.from_config`` reads: ``config.SimConfig`` has it, and the model need not
    import the command line to say so."""

    @property
    def symbols(self) -> Sequence[str]: ...
    @property
    def seed(self) -> int: ...
    @property
    def accounts(self) -> int: ...
    @property
    def market_ratio(self) -> float: ...
    @property
    def ioc_ratio(self) -> float: ...
    @property
    def cancel_ratio(self) -> float: ...
    @property
    def invalid_ratio(self) -> float: ...


class OrderFlow:
    def __init__(
        self,
        symbols: Sequence[str],
        *,
        seed: int,
        accounts: int = 100,
        market_ratio: float = 0.05,
        ioc_ratio: float = 0.10,
        cancel_ratio: float = 0.10,
        invalid_ratio: float = 0.0,
    ) -> None:
        if not symbols:
            raise ValueError("an order flow needs at least one symbol")
        self.symbols = tuple(symbols)
        self.accounts = accounts
        self.market_ratio = market_ratio
        self.ioc_ratio = ioc_ratio
        self.cancel_ratio = cancel_ratio
        self.invalid_ratio = invalid_ratio
        self._rng = np.random.Generator(np.random.PCG64(seed))
        nsym = len(self.symbols)
        # starting prices from $20 to $500, in ticks
        self._ref = self._rng.integers(2_000, 50_000, nsym)
        self._candidates_made = np.zeros(nsym, np.int64)  # per symbol, over the whole stream
        self._pending = np.empty((0, 7), np.int64)
        # Random cancels are cancel_ratio of the messages that are not expiries, i.e.
        # cancel_ratio / (1 - cancel_ratio) per new order; only candidates can be cancelled.
        candidate_share = _candidate_share(market_ratio, ioc_ratio, invalid_ratio)
        wanted = cancel_ratio / (1 - cancel_ratio) if cancel_ratio < 1 else float("inf")
        self._fate_share = min(1.0, wanted / candidate_share) if candidate_share > 0 else 0.0
        # Made but not yet handed out: rows, and for each of their new orders the row just
        # past it and the cancels that follow it. _taken rows and _taken_news are gone already.
        self._rows = np.empty((0, wire.ORDER_WIDTH), np.int64)
        self._ends = np.empty(0, np.int64)
        self._taken = 0
        self._taken_news = 0
        self._block_oid = 1  # oid of the first row of the next block
        self.next_oid = 1  # the next oid generate() hands out

    @staticmethod
    def max_cancel_ratio(market_ratio: float, ioc_ratio: float, invalid_ratio: float) -> float:
        """The highest ``cancel_ratio`` the flow can send with these other ratios: each DAY
        limit order is cancelled at most once, so cancels are bounded by their share."""
        share = _candidate_share(market_ratio, ioc_ratio, invalid_ratio)
        return share / (1 + share)

    @classmethod
    def from_config(cls, config: FlowSettings) -> OrderFlow:
        return cls(
            config.symbols,
            seed=config.seed,
            accounts=config.accounts,
            market_ratio=config.market_ratio,
            ioc_ratio=config.ioc_ratio,
            cancel_ratio=config.cancel_ratio,
            invalid_ratio=config.invalid_ratio,
        )

    def generate(self, n: int) -> np.ndarray:
        """The next ``n`` new orders with the cancels between them, as an int64 array of shape
        ``(m, wire.ORDER_WIDTH)``, ``m >= n``; oids are consecutive over both.

        Each new order comes with the cancels its arrival triggers, so the result never starts
        with a cancel and may end with some; ``generate(0)`` is empty. The rows are a view of
        storage the flow never writes again.
        """
        if n < 0:
            raise ValueError(f"cannot generate {n} orders")
        short = n - (len(self._ends) - self._taken_news)
        if short > 0:
            self._add_blocks(short)
        start = self._taken
        stop = int(self._ends[self._taken_news + n - 1]) if n else start
        self._taken, self._taken_news = stop, self._taken_news + n
        out = self._rows[start:stop]
        if len(out):
            self.next_oid = int(out[-1, 0]) + 1
        return out

    def _add_blocks(self, news: int) -> None:
        """Make blocks until ``news`` more new orders wait than now, joined to what waits in
        one concatenation: joining block by block would copy what waits once per block,
        quadratic in ``n`` (``generate(1_000_000)`` took seconds and grew memory)."""
        taken, taken_news = self._taken, self._taken_news
        rows, ends = [self._rows[taken:]], [self._ends[taken_news:] - taken]
        length, made = len(rows[0]), 0
        while made < news:
            block_rows, block_ends = self._make_block()
            rows.append(block_rows)
            ends.append(block_ends + length)
            length += len(block_rows)
            made += len(block_ends)
        self._rows = np.concatenate(rows)
        self._ends = np.concatenate(ends)
        self._taken = self._taken_news = 0

    def _make_block(self) -> tuple[np.ndarray, np.ndarray]:
        """The next block: its rows, and for each new order the row just past its cancels."""
        b, rng, nsym = _BLOCK, self._rng, len(self.symbols)

        # -- the new orders' own draws
        sym = rng.integers(0, nsym, b)
        step = rng.integers(0, 4, b)  # 0: a tick down, 3: a tick up
        account = rng.integers(0, self.accounts, b)
        side = 2 * rng.integers(0, 2, b) - 1
        qty = 100 * rng.integers(1, 11, b)
        offset = rng.integers(-3, 9, b)  # mostly passive, one in four crossing
        market = rng.random(b) < self.market_ratio
        ioc = rng.random(b) < self.ioc_ratio
        if self.invalid_ratio:
            invalid = rng.random(b) < self.invalid_ratio
            flaw = rng.integers(0, 3, b)
        else:
            invalid = np.zeros(b, bool)
            flaw = np.zeros(b, np.int64)

        # -- the walk, per symbol in one pass over the block sorted by symbol
        order = np.argsort(sym.astype(np.uint16) if nsym <= 1 << 16 else sym, kind="stable")
        sym_sorted = sym[order]
        counts = np.bincount(sym, minlength=nsym)
        ends_sorted = np.cumsum(counts)
        starts = ends_sorted - counts
        move = (step == 3).astype(np.int64) - (step == 0)
        run = np.cumsum(move[order])
        before = np.concatenate(([0], run))[starts]  # the running sum before each group
        free = self._ref[sym_sorted] + run - before[sym_sorted]  # the walk without its floor
        # Reflected at the floor: the walk is the free walk lifted by its deepest dip below it.
        gap = sym_sorted * _GROUP_GAP
        lift = np.maximum(np.maximum.accumulate(_FLOOR - free + gap) - gap, 0)
        ref = np.empty(b, np.int64)
        ref[order] = free + lift
        seen = counts > 0
        self._ref[seen] = ref[order[ends_sorted[seen] - 1]]

        # -- the new orders' rows, flaws included
        otype = np.where(market, _MARKET, _LIMIT)
        tif = np.where(market | ioc, _IOC, _DAY)
        price = np.where(market, 0, ref - side * offset)
        wire_sym = sym
        if self.invalid_ratio:
            qty[invalid & (flaw == 0)] = 0
            negative = invalid & (flaw == 1)
            otype[negative] = _LIMIT
            price[negative] = np.where(price[negative] != 0, -price[negative], -1)
            wire_sym = np.where(invalid & (flaw == 2), wire.UNKNOWN_SYM, sym)
        news = np.empty((b, wire.ORDER_WIDTH), np.int64)
        news[:, 1], news[:, 2], news[:, 3], news[:, 4] = account, wire_sym, side, otype
        news[:, 5], news[:, 6], news[:, 7], news[:, 8] = tif, price, qty, 0

        # -- candidates of this block: rank per symbol, and which new order has which rank
        candidate = ~(market | ioc | invalid)
        at = np.flatnonzero(candidate)  # block index of each candidate
        csym = sym[at]
        ccounts = np.bincount(csym, minlength=nsym)
        cstarts = np.cumsum(ccounts) - ccounts
        by_rank = order[candidate[order]]  # candidates grouped by symbol, in rank order
        rank = np.empty(b, np.int64)
        crun = np.cumsum(candidate[order])
        rank[order] = crun - np.concatenate(([0], crun))[starts][sym_sorted] - 1
        made = self._candidates_made
        age = np.full(len(at), DAY_ORDER_LIFETIME, np.int64)
        is_random = np.zeros(len(at), np.int64)
        if self._fate_share:
            fated = rng.random(len(at)) < self._fate_share
            lifetimes = rng.integers(1, DAY_ORDER_LIFETIME, len(at))
            age[fated] = lifetimes[fated]
            is_random[fated] = 1
        fresh = np.empty((len(at), 7), np.int64)
        fresh[:, _P_SYM], fresh[:, _P_DEATH] = csym, made[csym] + rank[at] + age
        fresh[:, _P_OID] = 0  # set below, once the rows' positions are known
        fresh[:, _P_ACCOUNT], fresh[:, _P_SIDE] = account[at], side[at]
        fresh[:, _P_PRICE], fresh[:, _P_RANDOM] = price[at], is_random
        cands = np.concatenate((self._pending, fresh))
        old = len(self._pending)

        # -- the cancels that fall in this block, each after the candidate that triggers it
        dsym, death = cands[:, _P_SYM], cands[:, _P_DEATH]
        ended = np.flatnonzero(death < made[dsym] + ccounts[dsym])  # in cands' (oid) order
        dsym = dsym[ended]
        after = by_rank[cstarts[dsym] + death[ended] - made[dsym]]
        d = cands[ended]
        # an expiry is sent only if the walk left the order's price behind: otherwise it has
        # likely traded, and the cancel would only be refused
        left_behind = d[:, _P_SIDE] * (ref[after] - d[:, _P_PRICE]) > 3
        sent = (d[:, _P_RANDOM] == 1) | left_behind
        after, d, dying = after[sent], d[sent], ended[sent]
        by_after = np.argsort(after, kind="stable")  # ties keep oid order: older target first
        after, d, dying = after[by_after], d[by_after], dying[by_after]
        c = len(after)
        # the j-th cancel (in row order) has every new order up to its trigger and j cancels
        # before it
        cancel_at = after + 1 + np.arange(c)
        is_new = np.ones(b + c, bool)
        is_new[cancel_at] = False
        new_at = np.flatnonzero(is_new)

        base = self._block_oid
        rows = np.empty((b + c, wire.ORDER_WIDTH), np.int64)
        rows[new_at] = news
        cancels = np.zeros((c, wire.ORDER_WIDTH), np.int64)
        cancels[:, 1], cancels[:, 2] = d[:, _P_ACCOUNT], d[:, _P_SYM]
        cancels[:, 4], cancels[:, 5] = _CANCEL, _DAY
        target = cands[:, _P_OID]  # a view: the oids set here stay in _pending too
        target[old:] = base + new_at[at]
        cancels[:, 8] = target[dying]
        rows[cancel_at] = cancels
        rows[:, 0] = base + np.arange(b + c)

        self._pending = np.delete(cands, ended, axis=0)
        self._candidates_made = made + ccounts
        self._block_oid = base + b + c
        ends = np.empty(b, np.int64)
        ends[:-1], ends[-1] = new_at[1:], b + c
        return rows, ends


def as_tuples(rows: np.ndarray, symbols: Sequence[str]) -> list[tuple]:
    """Rows of ``generate`` as readable tuples, the symbol by name (``UNKNOWN_SYMBOL`` for
    ``wire.UNKNOWN_SYM``): for tests, logs and reports, not the hot path."""
    return wire.readable_orders(rows.tolist(), symbols)
