"""The replay's bookkeeping (``simulator.replay``): each symbol's fresh book and journalled
fills, and the verdict, with the wording of every difference it can find."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from simulator.book import OrderBook
from simulator.orders import Event, RejectReason

_TRADE = int(Event.TRADE)
_REASONS = {int(r): r.name for r in RejectReason}
_DETAILED = {
    "REJECT": "REJECT {}",
    "CANCELLED": "CANCELLED leaves {}",
    "CANCEL_DONE": "CANCEL_DONE of order {}",
}
MISSING = object()  # a result the journal does not hold


class Symbol:
    """One symbol: its fresh book (None: no book trades it), the journal's fills as a stream,
    its arrival count, its place in the digest, and where a partial journal's events end."""

    __slots__ = ("name", "book", "journal", "seq", "replayed", "digest_sym", "cut", "kills")

    def __init__(self, name: str, book: OrderBook | None, journal: Iterator[tuple], digest_sym: int) -> None:
        self.name = name
        self.book = book
        self.journal = journal
        self.seq = self.replayed = 0  # orders seen, fills made
        self.digest_sym = digest_sym  # the symbol's index in the FillsDigest, -1 if none is made
        self.cut: str | None = None  # the first replayed event a partial journal lacks
        self.kills = 0  # the journal's kill switches applied to its book so far


def _fmt(fill: Sequence[object]) -> str:
    return ",".join(str(x) for x in fill)


def _result(name: str, detail: object) -> str:
    if name == "REJECT":
        detail = _REASONS.get(detail, detail)  # type: ignore[call-overload]
    return _DETAILED[name].format(detail) if name in _DETAILED else name


def flat(events: list[tuple]) -> list:
    """``OrderBook.submit``/``cancel``'s readable events as flat 7-int records."""
    out: list = []
    for e in events:
        out += (e[0], 0, *e[2:]) if e[0] == _TRADE else (*e, *(0,) * (7 - len(e)))
    return out


class Verdict:
    """The first difference, and what a partial journal lacks: the replay's rare paths."""

    def __init__(self, complete: bool) -> None:
        self.complete = complete
        self.first: str | None = None
        self.fills_beyond = self.results_beyond = 0

    def differ(self, text: str) -> None:
        if self.first is None:
            self.first = text

    def fill(self, s: Symbol, expected: tuple | None, got: tuple) -> None:
        """A replayed fill that is not the journal's next one, or comes after a gap."""
        if expected is None:
            self.fills_beyond += 1
            s.cut = s.cut or f"fill {got[0]}"
        elif expected != got:
            self.differ(f"{s.name} match {got[0]}: journal {_fmt(expected)} vs replay {_fmt(got)}")
        elif not self.complete:
            self.differ(f"{s.name}: the journal has fill {got[0]} but not the earlier {s.cut}")

    def result(self, s: Symbol, oid: int, name: str, got: object, detail: object, mine: dict | None) -> None:
        """A replayed result the journal lacks, holds otherwise, or holds after a gap."""
        made = _result(name, detail)
        if got is MISSING:
            self.results_beyond += 1
            if self.complete:
                has = ", ".join(_result(n, d) for n, d in mine.items()) if mine else "no such result"
                self.differ(f"{s.name} order {oid}: the replay made {made}, the journal has {has}")
            s.cut = s.cut or f"{made} of order {oid}"
        elif got != detail:
            self.differ(f"{s.name} order {oid}: journal {_result(name, got)} vs replay {made}")
        elif not self.complete:
            self.differ(f"{s.name}: the journal has {made} of order {oid} but not the earlier {s.cut}")

    def extra(self, symbol: object, oid: object, name: str, detail: object) -> None:
        """A journalled result the replay did not make (``symbol`` None: of no journalled order)."""
        made = _result(name, detail)
        if symbol is None:
            self.differ(f"order {oid} is not among the journal's orders, but has its {made}")
        else:
            self.differ(f"{symbol} order {oid}: the journal has {made}, the replay did not make it")
