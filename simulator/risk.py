"""Pre-trade risk: the checks an order passes in the bank before it leaves it, and the kill switch.

``RiskGate.check`` takes the rows the flow just made (wire order records, ``wire.py``) and
says, per row, why the bank refuses it (a ``RejectReason``), or 0. The bank books a refusal
exactly as a broker's REJECT and sends the order to no broker (``bank.py``). Cancel requests
always pass (they only take risk away); an order a broker would refuse anyway (a quantity of
0, a price of 0 or less, an unknown symbol) is left to its broker, which says why.

The checks, in the order a refusal names the first that fails:

* ``KILL_SWITCH``: the account (or every account) is blocked until released (``kill``,
  ``release``). Its resting orders are cancelled by the brokers themselves (``broker.py``).
* Per order, functions of the order and the seed alone, so the same seed and flags refuse the
  same orders whatever the brokers, batch or timing: ``ORDER_QTY_LIMIT`` (quantity over
  ``--max-order-qty``), ``NOTIONAL_LIMIT`` (quantity x price over ``--max-notional``; a market
  order is valued at its symbol's reference), ``PRICE_BAND`` (a limit price further from the
  symbol's reference than ``--price-band-pct`` percent of it). The reference is the flow's own
  reference price of the symbol as that order moved it (``flow.OrderFlow.last_refs``).
* ``ORDER_RATE_LIMIT``: at most ``--max-orders-per-s`` orders per account in each second of the
  *flow's clock*: each new order advances it by the schedule's step (1 / ``--rate``), so at a
  set rate the seconds are the schedule's and the refusals are a function of seed and flags
  too. At ``--rate 0`` there is no schedule and the clock is the bank's own (not
  reproducible); a rate changed while running moves the clock differently from then on.
* ``OPEN_ORDERS_LIMIT`` and ``POSITION_LIMIT`` read what the bank knows *now* of the account
  (``risk_exposure.LiveExposure``): its orders placed and not final, its position and what its
  open orders could still add to it. That depends on when fills come back, so these two are
  not reproducible; what holds is the bound: no account ever has more than
  ``--max-open-orders`` open, and no position ever passes ``--max-position`` either way.

Refused orders take no part in any count (rate, open orders, position). Pure model: numpy only.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from simulator.orders import OrderType, RejectReason
from simulator.rows import rows_at

_OID, _ACCOUNT, _SYM, _SIDE, _OTYPE, _TIF, _PRICE, _QTY = range(8)
_CANCEL, _MARKET = int(OrderType.CANCEL), int(OrderType.MARKET)
_NS = 1_000_000_000
ALL_ACCOUNTS = -1  # the kill switch's "every account"
BANK_REASONS = frozenset(r for r in RejectReason if 20 <= r < 30)  # refused in the bank, never sent


class RiskLimits(Protocol):
    """The limits ``RiskGate`` reads (``risk_flags.RiskSettings`` has them); None is off."""

    @property
    def max_order_qty(self) -> int | None: ...
    @property
    def max_notional(self) -> float | None: ...  # dollars
    @property
    def price_band_pct(self) -> float | None: ...
    @property
    def max_position(self) -> int | None: ...
    @property
    def max_open_orders(self) -> int | None: ...
    @property
    def max_orders_per_s(self) -> int | None: ...


class Exposure(Protocol):
    """What the account checks ask of the bank's books (``risk_exposure.LiveExposure``)."""

    def refused(self, orders: np.ndarray, now_ns: int) -> np.ndarray:
        """Per row of ``orders``: the RejectReason of the open-orders or position check, or 0;
        the rows passed count as open from now on."""
        ...


class RiskGate:
    """The bank's pre-trade checks over one run (see the module docstring)."""

    def __init__(self, limits: RiskLimits, accounts: int, exposure: Exposure | None = None) -> None:
        self.max_qty = limits.max_order_qty
        # dollars -> ticks x shares, the unit of a price times a quantity
        self.max_notional = None if limits.max_notional is None else int(round(limits.max_notional * 100))
        self.band_pct = limits.price_band_pct
        self.max_rate = limits.max_orders_per_s or 0  # 0: off
        self.exposure = exposure if (limits.max_open_orders or limits.max_position) else None
        self.accounts = accounts
        self.killed: set[int] = set()  # accounts blocked, or {ALL_ACCOUNTS}
        self.refusals: dict[int, int] = {}  # reason -> orders refused
        self._clock_ns = 0  # the flow's clock (see the module docstring)
        self._second = -1  # the flow second whose orders ``_used`` counts
        self._used: dict[int, int] = {}  # account -> orders passed in that second
        self._checks = any(x is not None for x in (self.max_qty, self.max_notional, self.band_pct))
        self._checks = self._checks or bool(self.max_rate) or self.exposure is not None

    @property
    def active(self) -> bool:
        """Whether anything is checked at all: off, placing an order costs nothing here."""
        return self._checks or bool(self.killed)

    # -- the kill switch ------------------------------------------------------------------------

    def kill(self, account: int) -> None:
        """Block ``account``'s new orders (ALL_ACCOUNTS: everyone's) until released."""
        self.killed = {ALL_ACCOUNTS} if account == ALL_ACCOUNTS else self.killed | {account}

    def release(self, account: int) -> bool:
        """Unblock ``account`` (ALL_ACCOUNTS: every one); False if it was not blocked by name."""
        if account == ALL_ACCOUNTS:
            was = bool(self.killed)
            self.killed = set()
            return was
        if account not in self.killed:
            return False
        self.killed = self.killed - {account}
        return True

    def blocked(self) -> tuple[int, ...]:
        """The accounts blocked, rising (ALL_ACCOUNTS first when every one is)."""
        return tuple(sorted(self.killed))

    # -- the checks -----------------------------------------------------------------------------

    def check(self, orders: np.ndarray, refs: np.ndarray, step_ns: int, now_ns: int) -> np.ndarray | None:
        """Per row of ``orders``: why the bank refuses it, or 0; None when it refuses none.
        ``refs``: each row's reference price; ``step_ns``: the schedule's step (0 at full
        speed: the flow's clock is then ``now_ns``)."""
        otype, qty, price = orders[:, _OTYPE], orders[:, _QTY], orders[:, _PRICE]
        new = otype != _CANCEL
        reasons = np.zeros(len(orders), np.int64)
        if self.killed:
            if ALL_ACCOUNTS in self.killed:
                reasons[new] = RejectReason.KILL_SWITCH
            else:
                reasons[new & np.isin(orders[:, _ACCOUNT], list(self.killed))] = RejectReason.KILL_SWITCH
        market = otype == _MARKET
        # what its broker would refuse anyway is left to it; the rest is checked here
        valid = new & (orders[:, _SYM] >= 0) & (qty > 0) & (market | (price > 0))
        if self.max_qty is not None:
            reasons[valid & (reasons == 0) & (qty > self.max_qty)] = RejectReason.ORDER_QTY_LIMIT
        if self.max_notional is not None:
            value = np.where(market, refs, price)
            # qty x value > M  <=>  qty > M // value, for positive integers: no product to overflow
            over = (value > 0) & (qty > self.max_notional // np.maximum(value, 1))
            reasons[valid & (reasons == 0) & over] = RejectReason.NOTIONAL_LIMIT
        if self.band_pct is not None:
            band = np.floor(refs * (self.band_pct / 100.0)).astype(np.int64)
            outside = ~market & (np.abs(price - refs) > band)
            reasons[valid & (reasons == 0) & outside] = RejectReason.PRICE_BAND
        if self.max_rate:
            self._rate_limit(orders, new, valid & (reasons == 0), reasons, step_ns, now_ns)
        if self.exposure is not None:
            at = np.flatnonzero(valid & (reasons == 0))
            if len(at):
                found = self.exposure.refused(rows_at(orders, at), now_ns)
                reasons[at] = found
        if not reasons.any():
            return None
        for r, k in zip(*np.unique(reasons[reasons != 0], return_counts=True)):
            self.refusals[int(r)] = self.refusals.get(int(r), 0) + int(k)
        return reasons

    def _rate_limit(
        self,
        orders: np.ndarray,
        new: np.ndarray,
        open_: np.ndarray,
        reasons: np.ndarray,
        step_ns: int,
        now_ns: int,
    ) -> None:
        """ORDER_RATE_LIMIT: per account, at most ``max_rate`` orders passed per flow second;
        ``open_`` marks the rows still to pass."""
        nth = np.cumsum(new) - 1  # each row's place among this call's new orders
        if step_ns:
            clock = self._clock_ns + nth * step_ns
            self._clock_ns += int(np.count_nonzero(new)) * step_ns
        else:
            self._clock_ns = max(self._clock_ns, now_ns)
            clock = np.full(len(orders), self._clock_ns, np.int64)
        at = np.flatnonzero(open_)
        if not len(at):
            return
        second = clock[at] // _NS  # rising with the rows
        account = orders[:, _ACCOUNT][at]
        by_key = np.argsort((second - second[0]) * self.accounts + account, kind="stable")
        second, account = second[by_key], account[by_key]
        first = np.ones(len(at), bool)
        first[1:] = (second[1:] != second[:-1]) | (account[1:] != account[:-1])
        starts = np.flatnonzero(first)
        rank = np.arange(len(at)) - np.repeat(starts, np.diff(np.append(starts, len(at))))
        used = np.zeros(len(at), np.int64)
        earlier = second == self._second  # orders of the second the last call ended in
        if earlier.any():
            used[earlier] = [self._used.get(a, 0) for a in account[earlier].tolist()]
        passed = rank + used < self.max_rate
        reasons[at[by_key[~passed]]] = RejectReason.ORDER_RATE_LIMIT
        last = int(second.max())
        if last != self._second:
            self._second, self._used = last, {}
        for a, c in zip(*np.unique(account[passed & (second == last)], return_counts=True)):
            self._used[int(a)] = self._used.get(int(a), 0) + int(c)


def refusal_counts(refusals: dict[int, int]) -> dict[str, int]:
    """The gate's refusals per reason name, in the reasons' order."""
    return {RejectReason(r).name: n for r, n in sorted(refusals.items())}
