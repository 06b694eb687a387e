"""Counters, rates, a latency histogram and the Snapshot that every view of a run reads.

The bank updates the mutable pieces here (``LatencyHistogram``, ``RateMeter``) on its own thread;
about ten times a second it freezes what a person may want to see into a ``Snapshot``. The
headless progress line, the final summary, the JSON report and the Textual dashboard all read
Snapshots and nothing else, so they can never disagree. Clocks are passed in, never read here.
"""

from __future__ import annotations

import enum
from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


class RunState(enum.Enum):
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"


class LatencyHistogram:
    """Log-linear histogram of non-negative integer values (microseconds), HDR style.

    Values below 64 get a bucket each; above, every power of two is split into 32 buckets,
    so any recorded value is known to within about 3%. Recording is one shift and one add.

    The counts sit in one preallocated array of machine integers (every bucket of an int64's
    range, 15 KiB), not in a dict of Python ints: a dict's count is a new int object at every
    record, and the counts of rarely hit buckets (the tail) live for the run wherever they
    were made, each keeping the interpreter's memory arena it sits in from being given back.
    ``counts`` is the non-empty buckets as a dict, made when asked (views, once a second).
    numpy is imported by the methods that read the array: brokers import this module (for the
    Snapshot's parts their messages carry) and never load numpy.
    """

    _SUB = 32  # buckets per power of two above the linear range
    _LINEAR = 64  # values below this get a bucket each
    BUCKETS = 64 + 58 * 32  # up to 2**63: an int64's range

    __slots__ = ("_counts", "count", "max")

    def __init__(self) -> None:
        self._counts = array("q", bytes(8 * self.BUCKETS))
        self.count = 0
        self.max = 0

    @staticmethod
    def bucket_of(value: int) -> int:
        if value < 64:
            return value if value > 0 else 0
        shift = value.bit_length() - 6  # so that value >> shift is in [32, 63]
        return min(64 + ((shift - 1) << 5) + (value >> shift) - 32, LatencyHistogram.BUCKETS - 1)

    @staticmethod
    def bucket_top(bucket: int) -> int:
        """The largest value that falls in ``bucket`` (what a percentile reports)."""
        if bucket < 64:
            return bucket
        shift, mantissa = divmod(bucket - 64, 32)
        return ((mantissa + 33) << (shift + 1)) - 1

    @property
    def counts(self) -> dict[int, int]:
        """bucket -> how many values fell in it, for the buckets hit (a dict made now)."""
        import numpy as np

        counts = self.array()
        hit = np.flatnonzero(counts)
        return dict(zip(hit.tolist(), counts[hit].tolist()))

    def array(self) -> np.ndarray:
        """Every bucket's count, a view of the histogram's own array (it changes with it)."""
        import numpy as np

        return np.frombuffer(self._counts, np.int64)

    @classmethod
    def of_counts(cls, counts: np.ndarray, top: int | None = None) -> LatencyHistogram:
        """A histogram of these bucket counts (``array``'s shape); its max is the top of its
        highest bucket hit, within ``top`` when given."""
        import numpy as np

        out = cls()
        out.array()[:] = counts
        hit = np.flatnonzero(counts)
        out.count = int(counts.sum())
        if len(hit):
            highest = cls.bucket_top(int(hit[-1]))
            out.max = highest if top is None else min(highest, top)
        return out

    def record(self, value: int, times: int = 1) -> None:
        self._counts[self.bucket_of(value)] += times
        self.count += times
        if value > self.max:
            self.max = value

    def merge(self, other: LatencyHistogram) -> None:
        self.array()[:] += other.array()
        self.count += other.count
        self.max = max(self.max, other.max)

    def minus(self, part: LatencyHistogram) -> LatencyHistogram:
        """What this histogram holds beyond ``part`` (values recorded here and there too); its
        max is the top of its highest bucket left, within this one's max."""
        rest = self.array() - part.array()
        return self.of_counts(rest.clip(min=0), self.max)

    def percentile(self, p: float) -> int:
        """Smallest bucket top with at least ``p`` percent of values at or below it; 0 if empty."""
        if not self.count:
            return 0
        wanted = max(1, -(-self.count * p // 100))
        bucket = int(self.array().cumsum().searchsorted(wanted))
        if bucket >= self.BUCKETS:
            return self.max
        return min(self.bucket_top(bucket), self.max)

    def summary(self) -> dict[str, int]:
        return {
            "count": self.count,
            "p50": self.percentile(50),
            "p99": self.percentile(99),
            "p999": self.percentile(99.9),
            "max": self.max,
        }


class RateMeter:
    """Events per second over the last whole second, and a history of one value per second."""

    def __init__(self, history_s: int = 60) -> None:
        self.history: deque[float] = deque(maxlen=history_s)
        self._mark_t: float | None = None
        self._mark_n = 0
        self.rate = 0.0

    def update(self, now: float, total: int) -> None:
        if self._mark_t is None:
            self._mark_t, self._mark_n = now, total
            return
        elapsed = now - self._mark_t
        if elapsed >= 1.0:
            self.rate = (total - self._mark_n) / elapsed
            self.history.append(self.rate)
            self._mark_t, self._mark_n = now, total


@dataclass(frozen=True, slots=True)
class ProcessRow:
    """One process of the run as the dashboard shows it: the bank or a broker."""

    name: str
    pid: int | None
    state: str  # STARTING RUNNING STOPPING EXITED HUNG DEAD
    symbols: tuple[str, ...] = ()
    inbox_depth: int = 0
    orders: int = 0
    orders_per_s: float = 0.0
    fills: int = 0
    cpu_percent: float = 0.0
    rss_bytes: int = 0
    heartbeat_age_s: float = 0.0
    restarts: int = 0
    exit_code: int | None = None
    host: str = ""  # where it runs (brokers over AMQP may run anywhere)
    # each restart's gap: from the death seen to the new process's first answer, in ms
    restart_gaps_ms: tuple[float, ...] = ()

    @property
    def warning(self) -> bool:
        """True when a person should look at this row (hung, dead, or failed)."""
        return self.state in ("HUNG", "DEAD") or self.exit_code not in (None, 0)


@dataclass(frozen=True, slots=True)
class TapeEntry:
    """A sampled order or fill for the live tape."""

    kind: str  # "order" or "fill"
    symbol: str
    side: int  # 1 buy, -1 sell (for a fill: the aggressor's side)
    qty: int
    price: int  # ticks; 0 for a market order
    account: int  # -1 when not known (a fill: its orders may be gone from the ledger)
    oid: int


@dataclass(frozen=True, slots=True)
class TapeEvent:
    """One event of the watched symbol, as its broker handled it (``simulator.tape``).

    ``seq`` rises by one per event through the run (the bank numbers them as they arrive), so a
    view can tell the new ones from those it has; ``t_s`` is the run's elapsed time when the
    broker handled the order. ``kind`` is one of ``simulator.tape.KINDS``."""

    seq: int
    t_s: float
    kind: str  # new ack fill cancelled cancel_done reject watch
    symbol: str
    oid: int  # the order the event is about (a fill: the aggressor, the incoming order)
    side: int = 0  # 1 buy, -1 sell (a fill: the aggressor's side)
    otype: int = 0  # orders.OrderType of a new order
    tif: int = 0  # orders.TimeInForce of a new order
    price: int = 0  # ticks: a new order's limit (0 for market), a fill's price
    qty: int = 0  # a new order's quantity, a fill's, what a cancel left unfilled
    account: int = -1  # a new order's account (-1 when not known)
    other: int = 0  # a fill: the resting order's id; a cancel request: the order it cancels
    reason: int = 0  # a reject: orders.RejectReason


@dataclass(frozen=True, slots=True)
class MarketRow:
    """One symbol's market data: its trades so far and the top of its book (prices in ticks,
    0 where there is none yet)."""

    symbol: str
    last: int = 0  # the latest trade's price
    first: int = 0  # the first trade's price: the change is measured from it
    vwap: float = 0.0  # volume-weighted average price of every trade
    volume: int = 0  # shares traded
    trades: int = 0
    high: int = 0
    low: int = 0
    bid: int = 0  # best bid, as its broker last reported it
    ask: int = 0  # best ask

    @property
    def change(self) -> int:
        return self.last - self.first if self.trades else 0

    @property
    def spread(self) -> int | None:
        return self.ask - self.bid if self.bid and self.ask else None


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One client account: cash, the market value of its positions and its P&L (cash + that
    value, marked to each symbol's last price), all in ticks x shares; its largest positions."""

    account: int
    pnl: int = 0
    cash: int = 0
    value: int = 0
    positions: tuple[tuple[str, int], ...] = ()  # (symbol, shares; negative: short), largest first
    symbols_held: int = 0  # symbols it holds a position in (``positions`` shows the largest)


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order of the selected account that is not final yet."""

    oid: int
    symbol: str
    side: int
    otype: int
    tif: int
    price: int
    qty: int
    leaves: int  # what is left to fill
    state: str  # "sent" (no answer yet) or "resting" (acked, on the book)


@dataclass(frozen=True, slots=True)
class YourOrder:
    """One of your own orders (the dashboard's form, or ``order`` over HTTP) and its state."""

    oid: int  # 2**40 + n: outside the flow's ids (simulator.outside_orders)
    symbol: str
    side: int
    otype: int
    tif: int
    price: int  # ticks; 0 for a market order
    qty: int
    filled: int  # shares filled so far
    state: str  # sent, resting, filled, cancelled, rejected
    reason: int = 0  # orders.RejectReason: why it was rejected, or why your cancel of it was
    cancel: str = ""  # your cancel of it: sent, done, refused ("": you asked none)


@dataclass(frozen=True, slots=True)
class YourAccount:
    """Your account (one beyond the flow's ``--accounts``): what your orders did, counted
    apart from the flow's, and its cash, positions and P&L marked to the last prices."""

    account: int
    placed: int = 0
    filled: int = 0
    cancelled: int = 0
    rejected: int = 0
    open: int = 0  # sent or resting
    filled_qty: int = 0  # shares bought and sold
    cash: int = 0  # ticks x shares
    pnl: int = 0  # cash + positions at the last prices, ticks x shares
    positions: tuple[tuple[str, int], ...] = ()  # (symbol, shares), largest first
    orders: tuple[YourOrder, ...] = ()  # the latest, oldest first


@dataclass(frozen=True, slots=True)
class BookView:
    """The top of one symbol's book, as its broker last reported it."""

    symbol: str
    bids: tuple[tuple[int, int, int], ...] = ()  # (price, qty, orders), best first
    asks: tuple[tuple[int, int, int], ...] = ()
    last_price: int | None = None

    @property
    def spread(self) -> int | None:
        if self.bids and self.asks:
            return self.asks[0][0] - self.bids[0][0]
        return None


@dataclass(frozen=True, slots=True)
class OrderCounts:
    """Where every order placed so far stands. At the end: placed = the five final states,
    filled + cancelled + rejected + resting + lost.

    While the run goes on, placed = filled + cancelled + rejected + resting + in_flight.

    Cancel requests are not orders and are counted apart, so the identities hold whatever was
    lost or is in flight: unanswered while the run goes on, a cancel request is in
    ``cancels_in_flight`` (not ``in_flight``); never answered at the end, in ``cancels_lost``
    (not ``lost``)."""

    placed: int = 0
    acked: int = 0
    filled: int = 0
    cancelled: int = 0
    rejected: int = 0
    resting: int = 0
    in_flight: int = 0  # orders sent, not answered yet (0 at the end)
    lost: int = 0  # orders, at the end: open in the ledger, resting on no book
    cancels_in_flight: int = 0  # cancel requests sent, not answered yet (0 at the end)
    cancels_lost: int = 0  # cancel requests, at the end: never answered


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a view of the run may show, frozen at one instant."""

    state: RunState
    elapsed_s: float
    seed: int
    rate: float  # target orders/s, 0 = as fast as possible
    orders: OrderCounts
    orders_per_s: float
    fills_per_s: float
    fills: int
    volume: int
    ack_latency_us: dict[str, int]
    throughput_history: tuple[float, ...]
    processes: tuple[ProcessRow, ...]
    symbols: tuple[str, ...]
    selected_symbol: str | None
    book: BookView | None
    tape: tuple[TapeEntry, ...]
    log_lines: tuple[str, ...]
    cancel_requests: dict[str, int] = field(default_factory=dict)
    reject_reasons: dict[str, int] = field(default_factory=dict)
    stop_reason: str | None = None
    final_latency_us: dict[str, int] = field(default_factory=dict)
    # the watched symbol's tape: its latest events, oldest first (every event while it trades
    # slower than ``simulator.tape.EYE_ORDERS_PER_S`` orders a second, sampled above)
    tape_events: tuple[TapeEvent, ...] = ()
    tape_skipped: int = 0  # events of the watched symbol the sampling left out, since the watch
    # the tape is of every symbol, sampled and merged in placement order (simulator.tape_feed)
    tape_all: bool = False
    # the most traded symbols' market data (at most ``snapshots.MARKET_ROWS``), most volume first
    market: tuple[MarketRow, ...] = ()
    # the accounts of highest P&L (at most ``snapshots.TOP_ACCOUNTS``), and the selected one's
    # open orders (at most ``snapshots.OPEN_ORDERS_SHOWN``); refreshed once a second
    accounts: tuple[AccountRow, ...] = ()
    selected_account: AccountRow | None = None
    account_orders: tuple[OpenOrder, ...] = ()
    stepped: int = 0  # the id of the last order placed by a step (the 'step' command), 0 before one
    # the ack latency of the last whole second alone (count, p50, p99, max): simulator.series
    ack_latency_last_s: dict[str, int] = field(default_factory=dict)
    transport: str = "pipe"  # how the bank talks to its brokers: pipe or amqp (--transport)
    blocked: tuple[int, ...] = ()  # accounts the kill switch blocks (-1: every account)
    accounts_count: int = 0  # the run's accounts (--accounts), 0 when not known
    you: YourAccount | None = None  # your own orders and account (None: the run has no account of yours)
