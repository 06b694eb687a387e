"""Counters, rates, a latency histogram and the Snapshot that every view of a run reads.

The bank updates the mutable pieces here (``LatencyHistogram``, ``RateMeter``) on its own thread;
about ten times a second it freezes what a person may want to see into a ``Snapshot``. The
headless progress line, the final summary, the JSON report and the Textual dashboard all read
Snapshots and nothing else, so they can never disagree. Clocks are passed in, never read here.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field


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
    """

    _SUB = 32  # buckets per power of two above the linear range
    _LINEAR = 64  # values below this get a bucket each

    __slots__ = ("counts", "count", "max")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.max = 0

    @staticmethod
    def bucket_of(value: int) -> int:
        if value < 64:
            return value if value > 0 else 0
        shift = value.bit_length() - 6  # so that value >> shift is in [32, 63]
        return 64 + ((shift - 1) << 5) + (value >> shift) - 32

    @staticmethod
    def bucket_top(bucket: int) -> int:
        """The largest value that falls in ``bucket`` (what a percentile reports)."""
        if bucket < 64:
            return bucket
        shift, mantissa = divmod(bucket - 64, 32)
        return ((mantissa + 33) << (shift + 1)) - 1

    def record(self, value: int, times: int = 1) -> None:
        bucket = self.bucket_of(value)
        counts = self.counts
        counts[bucket] = counts.get(bucket, 0) + times
        self.count += times
        if value > self.max:
            self.max = value

    def merge(self, other: LatencyHistogram) -> None:
        for bucket, n in other.counts.items():
            self.counts[bucket] = self.counts.get(bucket, 0) + n
        self.count += other.count
        self.max = max(self.max, other.max)

    def percentile(self, p: float) -> int:
        """Smallest bucket top with at least ``p`` percent of values at or below it; 0 if empty."""
        if not self.count:
            return 0
        wanted = max(1, -(-self.count * p // 100))
        seen = 0
        for bucket in sorted(self.counts):
            seen += self.counts[bucket]
            if seen >= wanted:
                return min(self.bucket_top(bucket), self.max)
        return self.max

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
    # the ack latency of the last whole second alone (count, p50, p99, max): simulator.series
    ack_latency_last_s: dict[str, int] = field(default_factory=dict)
    transport: str = "pipe"  # how the bank talks to its brokers: pipe or amqp (--transport)
