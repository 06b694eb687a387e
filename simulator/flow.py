"""The order-flow generator: what the bank's clients send, as a seeded, open-loop stream.

Pure model: it owns a ``random.Random`` built from the seed and reads no clock, no fills, no
queue. The n-th order therefore depends only on the seed and the flow parameters, never on
timing, batch size or the number of brokers; since each symbol's orders reach its one book in
this order, the fills are fixed by the seed too.

Each symbol has a reference price that walks one tick at a time. Limit prices fall around it,
mostly on the passive side, sometimes crossing; a share of messages cancel an earlier resting
candidate of the same symbol; a share are market orders, a share immediate-or-cancel, and a
share are made invalid on purpose (quantity 0, a negative price, an unknown symbol) so rejects
can be seen. A DAY order lives until ``DAY_ORDER_LIFETIME`` newer DAY orders of its symbol
exist; then the flow cancels it (if it still rests), so the books stay bounded in a long run.
"""
from __future__ import annotations

import random
from typing import Sequence

from simulator.orders import OrderType, Side, TimeInForce

UNKNOWN_SYMBOL = "?BAD"  # never a ticker: tickers start with a letter
DAY_ORDER_LIFETIME = 512  # per symbol: a DAY order is cancelled once this many newer ones exist

_LIMIT, _MARKET, _CANCEL = int(OrderType.LIMIT), int(OrderType.MARKET), int(OrderType.CANCEL)
_DAY, _IOC = int(TimeInForce.DAY), int(TimeInForce.IOC)
_BUY, _SELL = int(Side.BUY), int(Side.SELL)


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
        self._rng = random.Random(seed)
        # starting prices from $20 to $500, in ticks
        self._ref = [self._rng.randrange(2_000, 50_000) for _ in self.symbols]
        self._candidates: list[list[tuple[int, int, int, int]]] = [[] for _ in self.symbols]
        self.next_oid = 1

    @classmethod
    def from_config(cls, config) -> OrderFlow:
        return cls(
            config.symbols,
            seed=config.seed,
            accounts=config.accounts,
            market_ratio=config.market_ratio,
            ioc_ratio=config.ioc_ratio,
            cancel_ratio=config.cancel_ratio,
            invalid_ratio=config.invalid_ratio,
        )

    def generate(self, n: int) -> list[tuple]:
        """The next ``n`` new orders as wire tuples (see orders.py), with the cancel requests
        that come between them; ids are consecutive over both."""
        r = self._rng.random
        symbols, refs, candidates = self.symbols, self._ref, self._candidates
        nsym, accounts = len(symbols), self.accounts
        cancel_ratio, market_ratio = self.cancel_ratio, self.market_ratio
        ioc_ratio, invalid_ratio = self.ioc_ratio, self.invalid_ratio
        oid = self.next_oid - 1
        out = []
        append = out.append
        news = 0
        while news < n:
            oid += 1
            s = int(r() * nsym)
            symbol = symbols[s]
            step = r()
            ref = refs[s]
            if step < 0.25 and ref > 200:
                ref = refs[s] = ref - 1
            elif step > 0.75:
                ref = refs[s] = ref + 1
            cands = candidates[s]
            if len(cands) > DAY_ORDER_LIFETIME:
                # the oldest DAY order expires: cancel it if it is still likely to rest (its
                # price left behind by the walk), forget it if it likely traded already
                target, account, side, price = cands.pop(0)
                if side * (ref - price) > 3:
                    append((oid, account, symbol, 0, _CANCEL, _DAY, 0, 0, target))
                    continue
            if cands and r() < cancel_ratio:
                target, account, side, _price = cands.pop(int(r() * len(cands)))
                append((oid, account, symbol, 0, _CANCEL, _DAY, 0, 0, target))
                continue
            account = int(r() * accounts)
            side = _BUY if r() < 0.5 else _SELL
            qty = 100 * (1 + int(r() * 10))
            if r() < market_ratio:
                otype, tif, price = _MARKET, _IOC, 0
            else:
                otype = _LIMIT
                tif = _IOC if r() < ioc_ratio else _DAY
                # mostly passive (below the reference for a buy), one time in four crossing
                price = ref - side * (int(r() * 12) - 3)
            if invalid_ratio and r() < invalid_ratio:
                flaw = int(r() * 3)
                if flaw == 0:
                    qty = 0
                elif flaw == 1:
                    otype, price = _LIMIT, -price if price else -1
                else:
                    symbol = UNKNOWN_SYMBOL
            elif otype == _LIMIT and tif == _DAY:
                cands.append((oid, account, side, price))
            append((oid, account, symbol, side, otype, tif, price, qty, 0))
            news += 1
        self.next_oid = oid + 1
        return out
