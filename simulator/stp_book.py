"""The book of a run with self-trade prevention (``--stp``), and the choice between the two books.

With ``--stp none`` (the default) every book is a plain ``OrderBook``, whose hot path never looks
at an account. With any other mode an incoming order must look at the account of each resting
order it meets, so every order takes the general path of ``order_types``. Pure model.
"""

from __future__ import annotations

from simulator import order_types
from simulator.book import OrderBook


class StpOrderBook(OrderBook):
    """A book with self-trade prevention (``order_types.STP_MODES``): every order takes the
    general path, since its matching looks at each resting order's account."""

    __slots__ = ()

    def submit_into(
        self,
        out: list,
        oid: int,
        account: int,
        side: int,
        otype: int,
        tif: int,
        price: int,
        qty: int,
        target: int = 0,
    ) -> None:
        order_types.submit(self, out, oid, account, side, otype, tif, price, qty, target)


def new_book(symbol: str, sym_id: int = 0, stp: int = 0) -> OrderBook:
    """A book for ``symbol``; with a self-trade prevention mode (1..3), an ``StpOrderBook``."""
    return StpOrderBook(symbol, sym_id, stp) if stp else OrderBook(symbol, sym_id)
