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
exist; then the flow cancels it (if it likely still rests), and so it does a stop that cannot
rest, so the books (and the bank's open orders) stay bounded in a long run.

The stream is the bank's biggest cost, so it is built with numpy, ``_BLOCK`` new orders at a
time, as int64 rows in the wire's order layout (``simulator.wire``)::

    oid, account, sym, side, otype, tif, price, qty, target

``generate(n)`` hands out the next ``n`` new orders from those blocks, each followed by the
cancels its arrival triggers, so any chunking of the calls gives the same stream. Beside them,
``last_refs`` holds each row's *reference*: its symbol's reference price just after that order
moved it (what the bank's price band and a market order's notional are measured against,
``simulator.risk``), as much a function of the seed as the rows.

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
  cancelled at random is not expired again. An expiry is sent then if the order likely rests
  still: the walk has left its price behind (``side * (ref - price) > 3``). If not, it is put
  off as a *late* cancel, a lifetime on, sent then unless the walk has gone more than 3 ticks
  through the price (the order has traded): an order the walk stayed near is expired after
  all. An order amended (a random cancel turned amend) gets a late cancel too, at its new
  price. A stop that cannot rest (a market stop, an IOC stop-limit) and a DAY stop-limit wait
  held for a trigger the walk may never reach: theirs is sent after a lifetime whatever the
  walk did. Without these, orders rested for ever: one broker fed 12 million orders of the
  default flow (8 symbols) held 3,334 resting orders and 1,047 held stops after one million,
  9,055 and 4,742 at the end; now 1,400 to 1,850 and 85 to 115 throughout
  (``bench/flow_resting.py``), for 0.63 cancels per new order instead of 0.46.
  Whatever waits for a later block waits in ``_pending`` (``pending_cancels.py``), found by
  the symbol count it dies at, so a block costs the same however many wait.

Nothing here is sized by the symbols but two int64s per symbol (its reference price and its
candidate count) and one of scratch: a block's steps are over its orders and the symbols it has.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from simulator import flow_types, wire
from simulator.flow_types import NO_TYPES, TypeShares
from simulator.orders import OrderType, TimeInForce
from simulator.pending_cancels import ACCOUNT, FATE, OID, PRICE, SIDE, SYM, WIDTH, PendingCancels
from simulator.rows import put_rows, rows_at, rows_where

UNKNOWN_SYMBOL = wire.UNKNOWN_SYMBOL_NAME  # how ``as_tuples`` names wire.UNKNOWN_SYM
DAY_ORDER_LIFETIME = 512  # per symbol: a DAY order is cancelled once this many newer ones exist

_LIMIT, _MARKET, _CANCEL = int(OrderType.LIMIT), int(OrderType.MARKET), int(OrderType.CANCEL)
_STOP, _STOP_LIMIT = int(OrderType.STOP), int(OrderType.STOP_LIMIT)
_DAY, _IOC = int(TimeInForce.DAY), int(TimeInForce.IOC)

# New orders per block: big enough that numpy's per-call overhead is small per order, small
# enough that making one (a few ms) does not stall the bank's loop noticeably.
_BLOCK = 2048
_FLOOR = 200  # ticks: the reference price never walks below $2
# A waiting cancel's fate (pending_cancels.FATE): an expiry, sent if the walk left the order's
# price behind (else put off as a late one); a random cancel (which an amend may replace); a
# late cancel, a lifetime on, sent unless the walk has gone through the order's price; a
# stop's expiry, always sent
EXPIRY, RANDOM, LATE, ALWAYS = 0, 1, 2, 3
_LEFT_BEHIND = 3  # ticks past the order's price on its passive side: it likely rests still
_GONE_THROUGH = 3  # ticks past it the other way: it has likely traded
# Keeps symbols apart in one running maximum over the symbol-sorted block: far above any
# excursion of a walk within one block.
_GROUP_GAP = 1 << 40


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
    @property
    def fok_ratio(self) -> float: ...
    @property
    def post_only_ratio(self) -> float: ...
    @property
    def stop_ratio(self) -> float: ...
    @property
    def iceberg_ratio(self) -> float: ...
    @property
    def amend_ratio(self) -> float: ...


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
        types: TypeShares = NO_TYPES,
    ) -> None:
        if not symbols:
            raise ValueError("an order flow needs at least one symbol")
        self.symbols = tuple(symbols)
        self.accounts = accounts
        self.market_ratio = market_ratio
        self.ioc_ratio = ioc_ratio
        self.cancel_ratio = cancel_ratio
        self.invalid_ratio = invalid_ratio
        self.types = types  # the order types' shares (flow_types.py)
        self._rng = np.random.Generator(np.random.PCG64(seed))
        nsym = len(self.symbols)
        # starting prices from $20 to $500, in ticks
        self._ref = self._rng.integers(2_000, 50_000, nsym)
        self._candidates_made = np.zeros(nsym, np.int64)  # per symbol, over the whole stream
        self._pending = PendingCancels(nsym)
        self._group_of_sym = np.zeros(nsym, np.int64)  # scratch: each symbol's group in a block
        # Random cancels are cancel_ratio of the messages that are not expiries, i.e.
        # cancel_ratio / (1 - cancel_ratio) per new order; only candidates can be cancelled.
        candidate_share = _candidate_share(market_ratio, ioc_ratio, invalid_ratio)
        wanted = cancel_ratio / (1 - cancel_ratio) if cancel_ratio < 1 else float("inf")
        self._fate_share = min(1.0, wanted / candidate_share) if candidate_share > 0 else 0.0
        # Made but not yet handed out: rows, and for each of their new orders the row just
        # past it and the cancels that follow it. _taken rows and _taken_news are gone already.
        self._rows = np.empty((0, wire.ORDER_WIDTH), np.int64)
        self._refs = np.empty(0, np.int64)  # each row's reference price (see the docstring)
        self.last_refs = self._refs  # the references of the rows generate() handed out last
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
            types=TypeShares(
                config.fok_ratio,
                config.post_only_ratio,
                config.stop_ratio,
                config.iceberg_ratio,
                config.amend_ratio,
            ),
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
        self.last_refs = self._refs[start:stop]
        if len(out):
            self.next_oid = int(out[-1, 0]) + 1
        return out

    def _add_blocks(self, news: int) -> None:
        """Make blocks until ``news`` more new orders wait than now, joined to what waits in
        one concatenation: joining block by block would copy what waits once per block,
        quadratic in ``n`` (``generate(1_000_000)`` took seconds and grew memory)."""
        taken, taken_news = self._taken, self._taken_news
        rows, ends, refs = [self._rows[taken:]], [self._ends[taken_news:] - taken], [self._refs[taken:]]
        length, made = len(rows[0]), 0
        while made < news:
            block_rows, block_ends, block_refs = self._make_block()
            rows.append(block_rows)
            ends.append(block_ends + length)
            refs.append(block_refs)
            length += len(block_rows)
            made += len(block_ends)
        self._rows = np.concatenate(rows)
        self._ends = np.concatenate(ends)
        self._refs = np.concatenate(refs)
        self._taken = self._taken_news = 0

    def _make_block(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The next block: its rows, for each new order the row just past its cancels, and
        each row's reference price (a cancel's: that of the order that triggers it)."""
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

        # -- the walk, per symbol in one pass over the block sorted by symbol. Everything below
        # is sized by the block (its groups are the symbols it has), never by the symbols.
        order = np.argsort(sym.astype(np.uint16) if nsym <= 1 << 16 else sym, kind="stable")
        sym_sorted = sym[order]
        first = np.empty(b, bool)
        first[0] = True
        np.not_equal(sym_sorted[1:], sym_sorted[:-1], out=first[1:])
        gstart = np.flatnonzero(first)  # where each symbol's group starts, in sorted order
        gend = np.append(gstart[1:], b)
        gsym = sym_sorted[gstart]
        group = np.cumsum(first) - 1  # the group of each sorted position
        move = (step == 3).astype(np.int64) - (step == 0)
        run = np.cumsum(move[order])
        before = np.concatenate(([0], run))[gstart]  # the running sum before each group
        free = self._ref[sym_sorted] + run - before[group]  # the walk without its floor
        # Reflected at the floor: the walk is the free walk lifted by its deepest dip below it.
        gap = group * _GROUP_GAP
        lift = np.maximum(np.maximum.accumulate(_FLOOR - free + gap) - gap, 0)
        ref = np.empty(b, np.int64)
        ref[order] = free + lift
        self._ref[gsym] = ref[order[gend - 1]]

        # -- the new orders' rows, flaws included
        otype = np.where(market, _MARKET, _LIMIT)
        tif = np.where(market | ioc, _IOC, _DAY)
        price = np.where(market, 0, ref - side * offset)
        target = flow_types.convert(rng, self.types, ref, side, otype, tif, price, qty)
        wire_sym = sym
        if self.invalid_ratio:
            qty[invalid & (flaw == 0)] = 0
            negative = invalid & (flaw == 1)
            otype[negative] = _LIMIT
            price[negative] = np.where(price[negative] != 0, -price[negative], -1)
            wire_sym = np.where(invalid & (flaw == 2), wire.UNKNOWN_SYM, sym)
        news = np.empty((b, wire.ORDER_WIDTH), np.int64)
        news[:, 1], news[:, 2], news[:, 3], news[:, 4] = account, wire_sym, side, otype
        news[:, 5], news[:, 6], news[:, 7], news[:, 8] = tif, price, qty, target

        # -- candidates of this block: each one's count within its symbol, and its fate
        candidate = ~(market | ioc | invalid)
        at = np.flatnonzero(candidate)  # block index of each candidate
        csym = sym[at]
        in_sorted = candidate[order]
        by_rank = order[in_sorted]  # candidates grouped by symbol, in rank order
        crun = np.concatenate(([0], np.cumsum(in_sorted)))
        cstart = crun[gstart]  # where each group's candidates start in by_rank
        gcount = crun[gend] - cstart  # candidates per group
        group_of = np.empty(b, np.int64)
        group_of[order] = group
        cgroup = group_of[at]
        rank = np.empty(b, np.int64)
        rank[order] = crun[1:] - cstart[group] - 1
        made = self._candidates_made[csym]  # per candidate: its symbol's count before the block
        count = made + rank[at]  # per candidate: its count within its symbol
        age = np.full(len(at), DAY_ORDER_LIFETIME, np.int64)
        fate = np.full(len(at), EXPIRY, np.int64)
        if self._fate_share:
            fated = rng.random(len(at)) < self._fate_share
            lifetimes = rng.integers(1, DAY_ORDER_LIFETIME, len(at))
            age[fated] = lifetimes[fated]
            fate[fated] = RANDOM
        death = count + age
        # a stop-limit's price is beyond the walk on the side it waits for: held, the walk never
        # leaves it behind, so its expiry is always sent
        fate[(fate == EXPIRY) & (otype[at] == _STOP_LIMIT)] = ALWAYS
        # A stop that cannot rest (a market stop, an IOC stop-limit) waits held until its trigger
        # trades, which a walk may never do: it expires once LIFETIME candidates of its symbol
        # followed it, whatever the walk did (if it triggered, the cancel is refused: few are).
        # It is no candidate (no random cancel, no count of its own): ``rank`` + 1 candidates of
        # its symbol came before it. What waits for a cancel: the candidates, then these stops.
        stop = np.flatnonzero(((otype == _STOP) | (otype == _STOP_LIMIT)) & (tif == _IOC) & ~invalid)
        smade = self._candidates_made[sym[stop]]
        w_at, w_sym = np.concatenate((at, stop)), np.concatenate((csym, sym[stop]))
        w_group, w_made = np.concatenate((cgroup, group_of[stop])), np.concatenate((made, smade))
        w_death = np.concatenate((death, smade + rank[stop] + DAY_ORDER_LIFETIME))
        w_fate = np.concatenate((fate, np.full(len(stop), ALWAYS, np.int64)))
        dies_here = w_death - w_made < gcount[w_group]

        # -- the cancels that fall in this block, each after the candidate that triggers it:
        # earlier candidates dying at one of this block's counts, and this block's own
        made_before = self._candidates_made[gsym]
        self._candidates_made[gsym] += gcount
        self._group_of_sym[gsym] = np.arange(len(gsym))
        old, old_death = self._pending.take(csym, count, self._candidates_made)
        young = np.flatnonzero(dies_here)
        d_group = np.concatenate((self._group_of_sym[old[:, SYM]], w_group[young]))
        d_death = np.concatenate((old_death, w_death[young]))
        d_made = made_before[d_group]
        after = by_rank[cstart[d_group] + d_death - d_made]
        d_account = np.concatenate((old[:, ACCOUNT], account[w_at[young]]))
        d_side = np.concatenate((old[:, SIDE], side[w_at[young]]))
        d_price = np.concatenate((old[:, PRICE], price[w_at[young]]))
        d_fate = np.concatenate((old[:, FATE], w_fate[young]))
        d_sym = np.concatenate((old[:, SYM], w_sym[young]))
        base = self._block_oid
        # oid order: every earlier candidate's oid is below this block's, whose rise with ``at``
        seniority = np.concatenate((old[:, OID], base + w_at[young]))
        d_ref = ref[after]
        # How far the walk is past the order's price on its passive side: far past (left
        # behind), the order likely rests; far the other way (gone through it), it has traded.
        lead = d_side * (d_ref - d_price)
        now = (d_fate == RANDOM) | (d_fate == ALWAYS) | ((d_fate == EXPIRY) & (lead > _LEFT_BEHIND))
        now |= (d_fate == LATE) & (lead >= -_GONE_THROUGH)
        cancels = np.zeros((len(d_fate), wire.ORDER_WIDTH), np.int64)
        cancels[:, 1], cancels[:, 2] = d_account, d_sym
        cancels[:, 4], cancels[:, 5] = _CANCEL, _DAY
        flow_types.amend(rng, self.types.amend, cancels, d_fate == RANDOM, d_side, d_price, d_ref)
        # Later cancels, a lifetime on: an expiry not sent now (an order the walk stays near may
        # rest still, and one never expired would rest for ever: the books, and the bank's open
        # orders, grew through a long run), and the expiry of an order amended now (at its new
        # price). Sent unless the walk has gone through the order; in this block or a later one.
        off = np.concatenate((np.flatnonzero((d_fate == EXPIRY) & ~now), np.flatnonzero(cancels[:, 7] > 0)))
        off_death = d_death[off] + DAY_ORDER_LIFETIME
        off_price = np.where(cancels[off, 7] > 0, cancels[off, 6], d_price[off])
        off_group, off_made = d_group[off], d_made[off]
        here = np.flatnonzero(off_death - off_made < gcount[off_group])
        off_after = by_rank[cstart[off_group[here]] + off_death[here] - off_made[here]]
        late = d_side[off[here]] * (ref[off_after] - off_price[here]) >= -_GONE_THROUGH
        sent_d = np.concatenate((np.flatnonzero(now), off[here[late]]))  # each one's entry
        after = np.concatenate((after[now], off_after[late]))
        order_sent = np.lexsort((seniority[sent_d], after))  # by trigger, older target first
        sent_d, after = sent_d[order_sent], after[order_sent]
        c = len(after)
        # the j-th cancel (in row order) has every new order up to its trigger and j cancels
        # before it
        cancel_at = after + 1 + np.arange(c)
        is_new = np.ones(b + c, bool)
        is_new[cancel_at] = False
        new_at = np.flatnonzero(is_new)
        oid_of_waiting = base + new_at[w_at]

        rows = np.empty((b + c, wire.ORDER_WIDTH), np.int64)
        put_rows(rows, new_at, news)
        target = np.concatenate((old[:, OID], oid_of_waiting[young]))
        cancels[:, 8] = target
        late_rows = rows_at(cancels, off[here[late]])
        late_rows[:, 6:8] = 0  # a cancel, even of an order amended before
        put_rows(rows, cancel_at, rows_at(np.concatenate((rows_where(cancels, now), late_rows)), order_sent))
        rows[:, 0] = base + np.arange(b + c)
        refs = np.empty(b + c, np.int64)
        refs[new_at], refs[cancel_at] = ref, ref[after]

        # -- what waits for a later block: this block's candidates and stops, later cancels
        waits = np.flatnonzero(~dies_here)
        later = np.delete(np.arange(len(off)), here)
        kept = np.empty((len(waits) + len(later), WIDTH), np.int64)
        kept[:, SYM] = np.concatenate((w_sym[waits], d_sym[off[later]]))
        kept[:, OID] = np.concatenate((oid_of_waiting[waits], target[off[later]]))
        kept[:, ACCOUNT] = np.concatenate((account[w_at[waits]], d_account[off[later]]))
        kept[:, SIDE] = np.concatenate((side[w_at[waits]], d_side[off[later]]))
        kept[:, PRICE] = np.concatenate((price[w_at[waits]], off_price[later]))
        kept[:, FATE] = np.concatenate((w_fate[waits], np.full(len(later), LATE, np.int64)))
        self._pending.add(kept[:, SYM], np.concatenate((w_death[waits], off_death[later])), kept)
        self._block_oid = base + b + c
        ends = np.empty(b, np.int64)
        ends[:-1], ends[-1] = new_at[1:], b + c
        return rows, ends, refs


def as_tuples(rows: np.ndarray, symbols: Sequence[str]) -> list[tuple]:
    """Rows of ``generate`` as readable tuples, the symbol by name (``UNKNOWN_SYMBOL`` for
    ``wire.UNKNOWN_SYM``): for tests, logs and reports, not the hot path."""
    return wire.readable_orders(rows.tolist(), symbols)
