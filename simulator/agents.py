"""Agents that trade beside the seeded flow: market makers, momentum and mean-reversion takers.

An agent reacts to one symbol's book and runs in that book's broker, driven only by the book's
events in order: after each order of the inbox (the flow's, or yours) the book has handled, its
``Desk`` lets every agent look at the book and place orders, which the book handles at once,
before the next inbox order. Agents never react to each other's orders. So what they do is a
function of the orders the book saw, never of batches, timing or how many brokers there are.

The rule that keeps it so across a broker restart: an agent's state is only what the bank can
give back exactly. A market maker's quotes are its resting orders (in the restored book), its
inventory its account's position in the symbol (``BookState.agents``); a taker looks at how the
last trade price moved since the desk's previous look (the book's restored last price). A desk
looks again only when a trade happened since its last look (the book's match number moved),
so a restored desk is where its predecessor was. A draw (whether a taker acts) is a hash of
(seed, symbol, agent, trigger id), never a generator with state.

Ids: the orders made while the book reacted to order ``t`` are ``AGENT_BASE + t * SLOTS + slot``,
the slot fixed per agent and purpose (``slot_of``), so no counter needs restoring and no two
collide; triggers are flow ids (< 2**40) or yours (< 2**41), so ids stay below 2**50. Each such
order's priority stamp is the trigger's (``order_types.next_stamp``), which keeps stamps in an
int64 and sorts agents' orders right behind the order that caused them.

The broker reports each agent order to the bank as an AGENT_ORDER record, which stands for
the book's answer too (``agent_records.py``). Pure model: stdlib only, no clock, no process.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from simulator import order_types
from simulator.agent_records import AGENT_ORDER, pack_kind
from simulator.book import OrderBook
from simulator.orders import STAMP_SHIFT
from simulator.outside_ids import AGENT, SOURCES

AGENT_BASE = SOURCES[AGENT]
SLOTS = 256  # agent orders one trigger can make: the slots below
MAKER_SLOTS = 4  # a maker's: cancel bid, cancel ask, new bid, new ask
MOST_MAKERS = 32  # slots 0..127
MOST_TAKERS = 32  # of each kind: momentum 128..159, mean reversion 160..191
MOMENTUM_SLOT, REVERSION_SLOT = 128, 160
KINDS = ("market_maker", "momentum", "mean_reversion")
_MASK64 = (1 << 64) - 1
_BUY, _SELL, _LIMIT, _MARKET, _CANCEL, _DAY, _IOC = 1, -1, 0, 1, 2, 0, 1


@dataclass(frozen=True, slots=True)
class AgentParams:
    """How many agents of each kind, their first account, and their few parameters."""

    makers: int = 0
    momentum: int = 0
    mean_reversion: int = 0
    first_account: int = 0  # makers, then momentum, then mean reversion, one account each
    seed: int = 0
    spread: int = 4  # ticks between a maker's bid and ask (maker i: 2 * (i % 3) more)
    quote_size: int = 100  # shares per quote
    max_inventory: int = 1000  # a maker quotes no side that would take it past this
    skew: int = 1  # ticks both quotes move against each quote_size of inventory
    refresh: int = 3  # a quote more than this many ticks off where it should be is replaced
    taker_size: int = 100  # shares per taker order (a MARKET IOC)
    move: int = 2  # ticks the last price must move between two looks to make a taker act
    take_pct: int = 50  # chance in percent that a taker acts when it may

    @property
    def count(self) -> int:
        return self.makers + self.momentum + self.mean_reversion

    def kind_of(self, account: int) -> str | None:
        """The kind of agent whose account this is, or None for a client's."""
        i = account - self.first_account
        if not 0 <= i < self.count:
            return None
        return KINDS[0] if i < self.makers else KINDS[1] if i < self.makers + self.momentum else KINDS[2]


def agent_oid(trigger: int, slot: int) -> int:
    return AGENT_BASE + trigger * SLOTS + slot


def trigger_of(oid: int) -> int:
    """The order whose handling made agent order ``oid``."""
    return (oid - AGENT_BASE) // SLOTS


def slot_of(oid: int) -> int:
    return (oid - AGENT_BASE) % SLOTS


def draw(seed: int, sym: int, agent: int, trigger: int) -> int:
    """A number in 0..99 that depends only on its arguments (splitmix64 of their mix)."""
    z = (
        seed * 0x9E3779B97F4A7C15 + sym * 0xBF58476D1CE4E5B9 + agent * 0x94D049BB133111EB + trigger
    ) & _MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return (z ^ (z >> 31)) % 100


def maker_quotes(p: AgentParams, i: int, ref: int, inventory: int) -> tuple[int | None, int | None]:
    """Where maker ``i`` wants its bid and ask around reference price ``ref`` (None: no quote
    on that side, which would take its inventory past ``max_inventory``). A long maker quotes
    lower (to sell), a short one higher: ``skew`` ticks per ``quote_size`` held."""
    spread = p.spread + 2 * (i % 3)
    shift = -(inventory * p.skew) // p.quote_size
    bid = ref - spread // 2 + shift
    ask = bid + spread
    bid_ok = inventory + p.quote_size <= p.max_inventory and bid > 0
    ask_ok = inventory - p.quote_size >= -p.max_inventory
    return (bid if bid_ok else None), (ask if ask_ok else None)


def reference(book) -> int | None:
    """What makers quote around: the book's mid (rounded down) when both sides have orders,
    else its last trade price (None before the first trade)."""
    bid, ask = tops(book)
    return (bid + ask) // 2 if bid and ask else book.last_price


def tops(book) -> tuple[int, int]:
    """The best bid and ask prices (0: that side is empty). Read off the book's sorted level
    keys (a level goes when its last live order does): ``best_bid`` sums the level too."""
    bids, asks = book._bid_keys, book._ask_keys
    return (bids[-1] if bids else 0), (-asks[-1] if asks else 0)


def needs_new(quote: list | None, want: int | None, p: AgentParams) -> bool:
    """Whether a quote ([oid, price, leaves] or None) is to be replaced by one at ``want``:
    it is missing (filled up), or more than ``refresh`` ticks off; or none is wanted."""
    if want is None:
        return quote is not None
    return quote is None or abs(quote[1] - want) > p.refresh


_FAR = 1 << 62
NOT_STEADY = (0, 0)  # a range of references no reference is in


def steady(p: AgentParams, i: int, quotes: list, inventory: int) -> tuple[int, int]:
    """The open range (lo, hi) of reference prices at which maker ``i``, holding ``inventory``
    with ``quotes`` ([bid, ask], each [oid, price, leaves] or None), would replace neither quote
    (``needs_new`` false on both sides of ``maker_quotes``): a desk skips the maker while the
    reference stays inside. NOT_STEADY when no reference is sure to leave both alone."""
    spread = p.spread + 2 * (i % 3)
    half = spread // 2 - (-(inventory * p.skew) // p.quote_size)  # ref - half: the bid wanted
    bid, ask = quotes
    if (bid is None) == (inventory + p.quote_size <= p.max_inventory) or (ask is None) == (
        inventory - p.quote_size >= -p.max_inventory
    ):
        return NOT_STEADY  # a quote to place (allowed, missing), or one to cancel (not allowed)
    lo, hi, r = -_FAR, _FAR, p.refresh + 1
    if bid is not None:  # the reference that wants this bid, refresh ticks either way (inclusive)
        lo, hi = max(bid[1] + half - r, half), bid[1] + half + r  # (and a bid stays above 0)
    if ask is not None:
        at = ask[1] + half - spread
        lo, hi = max(lo, at - r), min(hi, at + r)
    return (lo, hi) if lo < hi else NOT_STEADY


Submit = Callable[..., None]
Cancel = Callable[..., None]


class Desk:
    """The agents of one book (see the module docstring); ``react`` after each inbox order."""

    def __init__(self, params: AgentParams, book) -> None:
        self.p = params
        self.book = book
        self.sym = book.sym_id
        self.quotes: list[list] = [[None, None] for _ in range(params.makers)]  # [bid, ask] each
        self.inventory = [0] * params.count  # shares held in this symbol, per agent
        self.halted: set[int] = set()  # agents the kill switch stopped
        self.steady = [NOT_STEADY] * params.makers  # each maker's references needing nothing
        self.band = NOT_STEADY  # references inside every maker's steady range (or the maker halted)
        self.seen_seq = book.match_seq
        self.seen_price = book.last_price
        self.takers = params.momentum + params.mean_reversion
        self.orders = 0
        self._plain = type(book) is OrderBook  # not an StpOrderBook: its quotes can rest in place
        # each maker's (quote_size, skew, max_inventory, refresh, spread, account), for _quote
        p = params
        self._maker = [
            (p.quote_size, p.skew, p.max_inventory, p.refresh, p.spread + 2 * (i % 3), p.first_account + i)
            for i in range(p.makers)
        ]
        sym = self.sym  # the packed kinds of its AGENT_ORDER events: bid, ask, cancel, takers'
        self._kinds = (
            pack_kind(sym, _BUY, _LIMIT, _DAY),
            pack_kind(sym, _SELL, _LIMIT, _DAY),
            pack_kind(sym, 0, _CANCEL, _DAY),
            {side: pack_kind(sym, side, _MARKET, _IOC) for side in (_BUY, _SELL)},
        )

    # -- the reaction --------------------------------------------------------------------------

    def react(self, trigger: int, out: list, start: int, submit: Submit, cancel: Cancel) -> None:
        """The book has handled order ``trigger``, whose events are ``out[start:]``: book the
        fills of agents' orders, then let each agent act (makers first, then takers)."""
        book = self.book
        seq = book._match_seq  # (the book's slots, not its properties: a call saved each)
        if seq == self.seen_seq:
            return  # no trade since the last look: nothing an agent looks at has moved
        # an agent's order among the trades' buyers and sellers? Their sum says (found at C speed,
        # cheaper than max): every field there is >= 0, and the others' ids are far below AGENT_BASE
        if sum(out[start + 3 :: 7], sum(out[start + 4 :: 7])) > AGENT_BASE:  # (a false alarm: a look)
            self._fills(out, start)
        # most looks change nothing: the reference inside every maker's steady range (band),
        # the last price too close to the last look's for a taker; decided here at little cost
        bids, asks = book._bid_keys, book._ask_keys
        last = book._last_price
        ref = (bids[-1] - asks[-1]) // 2 if bids and asks else last  # reference(book), inlined
        band, seen = self.band, self.seen_price
        if (ref is None or band[0] < ref < band[1]) and (
            not self.takers or last is None or seen is None or abs(last - seen) < self.p.move
        ):
            self.seen_seq, self.seen_price = seq, last
            return
        top = book._max_oid  # agents' ids are no flow ids: the book's UNKNOWN_ORDER test ignores them
        mark = len(out)
        p = self.p
        if ref is not None and not band[0] < ref < band[1]:
            ranges, halted = self.steady, self.halted
            # the book's own cancel and rest (not the tape's wrappers): _quote does them in place
            own = getattr(cancel, "__self__", None) is book
            plain, place = (None if own else cancel), (None if own and self._plain else submit)
            lo_all, hi_all = -_FAR, _FAR  # the new band, made on the way (faster than max and min)
            for i, r in enumerate(ranges):
                if not r[0] < ref < r[1]:  # (else what _quote would decide: it would change nothing)
                    if i in halted:
                        continue
                    r = ranges[i] = self._quote(i, ref, trigger, out, place, plain)
                elif halted and i in halted:
                    continue
                if r[0] > lo_all:
                    lo_all = r[0]
                if r[1] < hi_all:
                    hi_all = r[1]
            self.band = (lo_all, hi_all)
        last = book._last_price
        move = last - self.seen_price if last is not None and self.seen_price is not None else 0
        if abs(move) >= p.move:
            for j in range(p.momentum + p.mean_reversion):
                agent = p.makers + j
                if agent in self.halted or draw(p.seed, self.sym, agent, trigger) >= p.take_pct:
                    continue
                side = (1 if move > 0 else -1) * (1 if j < p.momentum else -1)
                slot = MOMENTUM_SLOT + j if j < p.momentum else REVERSION_SLOT + j - p.momentum
                if abs(self.inventory[agent] + side * p.taker_size) <= p.max_inventory:
                    oid = agent_oid(trigger, slot)
                    account = p.first_account + agent
                    k = len(out)
                    out += (
                        AGENT_ORDER,
                        oid,
                        account,
                        self._kinds[3][side],
                        0,
                        p.taker_size,
                        0,
                    )
                    submit(out, oid, account, side, _MARKET, _IOC, 0, p.taker_size, 0)
                    del out[k + 7 : k + 14]  # its ACK (always first): the record stands for it
                    self.orders += 1
        book._max_oid = top
        if book._match_seq != seq and max(out[mark:]) > AGENT_BASE:  # an agent's order traded
            self._fills(out, mark)  # (a maker's quote never does)
        self.seen_seq = book._match_seq
        self.seen_price = book._last_price

    def _quote(
        self, i: int, ref: int, trigger: int, out: list, submit: Submit | None, cancel: Cancel | None
    ) -> tuple[int, int]:
        """Maker ``i``'s quotes for reference ``ref`` (``maker_quotes``, replaced as ``needs_new``
        says), inlined with what the desk keeps at hand: this runs for every maker's every look
        outside its steady range. ``cancel`` None: the book's own cancel, done here at once;
        ``submit`` None: the book's own rest (``OrderBook.rest``: a quote never crosses).
        The maker's ``steady`` range after, inlined too."""
        book = self.book
        quotes = self.quotes[i]
        inventory = self.inventory[i]
        size, skew, most, refresh, spread, account = self._maker[i]
        half = (spread >> 1) - (-(inventory * skew) // size)  # ref - half: the bid wanted
        bid = ref - half
        base = AGENT_BASE + (trigger << 8) + (i << 2)  # agent_oid(trigger, 4 * i)
        for s in (0, 1):
            quote = quotes[s]
            if s == 0:
                want = bid if inventory + size <= most and bid > 0 else None
            else:
                want = bid + spread if inventory - size >= -most else None
            if want is None:
                if quote is None:
                    continue
            elif quote is not None and -refresh <= quote[1] - want <= refresh:
                continue  # (needs_new, inlined)
            if quote is not None:
                oid = base + s
                target = quote[0]
                e = book._index.pop(target, None) if cancel is None else None
                if e is not None:  # done: the record says so, with the leaves (module docstring)
                    out += (AGENT_ORDER, oid, account, self._kinds[2], book.unlink(e), 0, target)
                else:
                    k = len(out)
                    out += (AGENT_ORDER, oid, account, self._kinds[2], 0, 0, target)
                    (cancel or book.cancel_into)(out, oid, target, 0, 0)
                    if out[k + 7] == 4:  # CANCELLED, CANCEL_DONE: the record says so instead
                        out[k + 4] = out[k + 9]
                        del out[k + 7 :]
                quotes[s] = None
                self.orders += 1
            if want is None:
                continue
            # never take liquidity: a quote stays a tick behind the other side's best (tops())
            if s == 0:
                asks = book._ask_keys
                if asks and want >= -asks[-1]:
                    want = -asks[-1] - 1
            else:
                bids = book._bid_keys
                if bids and want <= bids[-1]:
                    want = bids[-1] + 1
            if want <= 0:
                continue
            oid = base + 2 + s
            if book.stamp_at != trigger:  # order_types.next_stamp, inlined (a trigger is no agent's)
                book.stamp_at, book.stamp_k = trigger, 0
            book.stamp_k += 1
            out += (
                AGENT_ORDER,
                oid,
                account,
                self._kinds[s],
                want,
                size,
                (trigger << STAMP_SHIFT) + book.stamp_k,
            )
            if submit is None:
                book.rest(oid, account, 1 - 2 * s, want, size)
            else:
                k = len(out)
                submit(out, oid, account, 1 - 2 * s, _LIMIT, _DAY, want, size, 0)
                del out[k : k + 7]  # its ACK (a quote never trades): the record stands for it
            quotes[s] = [oid, want, size]
            self.orders += 1
        bid_q, ask_q = quotes  # steady(), inlined
        if (bid_q is None) == (inventory + size <= most) or (ask_q is None) == (inventory - size >= -most):
            return NOT_STEADY
        r = refresh + 1
        if bid_q is None:
            lo, hi = -_FAR, _FAR
        else:
            lo, hi = bid_q[1] + half - r, bid_q[1] + half + r
            if lo < half:
                lo = half
        if ask_q is not None:
            at = ask_q[1] + half - spread
            if at - r > lo:
                lo = at - r
            if at + r < hi:
                hi = at + r
        return (lo, hi) if lo < hi else NOT_STEADY

    def _fills(self, out: list, start: int) -> None:
        """Book the trades in ``out[start:]`` that name an agent's order (the caller saw that
        some event does): inventory, quotes."""
        kinds = out[start::7]  # trades are few among the events: find them at C speed
        j = -1
        for _ in range(kinds.count(3)):
            j = kinds.index(3, j + 1)
            k = start + 7 * j
            qty = out[k + 6]
            if out[k + 3] > AGENT_BASE:
                self._filled(out[k + 3], qty)
            if out[k + 4] > AGENT_BASE:
                self._filled(out[k + 4], -qty)

    def _filled(self, oid: int, delta: int) -> None:
        slot = (oid - AGENT_BASE) & (SLOTS - 1)  # slot_of(oid)
        if slot < MOMENTUM_SLOT:  # a maker's quote: slot 4 * maker + 2 + side (0 its bid, 1 its ask)
            agent = slot >> 2
            self.steady[agent] = self.band = NOT_STEADY  # its inventory moved: look again
            quotes = self.quotes[agent]
            quote = quotes[slot & 1]
            if quote is not None and quote[0] == oid:
                quote[2] -= abs(delta)
                if quote[2] <= 0:
                    quotes[slot & 1] = None
        elif slot < REVERSION_SLOT:
            agent = self.p.makers + slot - MOMENTUM_SLOT
        else:
            agent = self.p.makers + self.p.momentum + slot - REVERSION_SLOT
        self.inventory[agent] += delta

    # -- kill switch and restart -----------------------------------------------------------------

    def halt(self, account: int, out: list) -> int:
        """The kill switch on ``account`` (-1: every account): its agents stop, and their
        resting quotes are cancelled (CANCELLED records to ``out``); how many."""
        hit = [a for a in range(self.p.count) if account in (-1, self.p.first_account + a)]
        n = 0
        for a in hit:
            self.halted.add(a)
            n += self.book.cancel_account_into(out, self.p.first_account + a, 1 << 62)
            if a < self.p.makers:
                self.quotes[a] = [None, None]
        return n

    def release(self, account: int) -> None:
        """Let the agents of ``account`` (-1: all) act again, from the next trade on."""
        self.halted = {a for a in self.halted if account not in (-1, self.p.first_account + a)}
        self.steady = [NOT_STEADY] * self.p.makers
        self.band = NOT_STEADY

    def restore(self, positions: Iterable[Sequence[int]], max_oid: int) -> None:
        """The state a restarted broker's desk had: quotes from the restored book's resting
        orders, inventory from the bank's (account, position); the book's highest id seen is
        ``max_oid`` or an order's it holds, agents' orders left out, as in the original."""
        p, book = self.p, self.book
        resting = book.resting()
        held = [s[0] for s in order_types.held_stops(book)]
        book._max_oid = max([max_oid, *held, *(o[0] for o in resting if o[0] < AGENT_BASE)])
        self.quotes = [[None, None] for _ in range(p.makers)]
        for oid, account, side, price, leaves, *_ in resting:
            i = account - p.first_account
            if oid > AGENT_BASE and 0 <= i < p.makers:
                self.quotes[i][0 if side == _BUY else 1] = [oid, price, leaves]
        self.inventory = [0] * p.count
        for account, position in positions:
            if 0 <= account - p.first_account < p.count:
                self.inventory[account - p.first_account] = position
        self.steady = [steady(p, i, self.quotes[i], self.inventory[i]) for i in range(p.makers)]
        self.band = NOT_STEADY  # made at the first look
        self.seen_seq = self.book.match_seq
        self.seen_price = self.book.last_price
