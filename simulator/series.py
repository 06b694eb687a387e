"""A run second by second: the report's time series, and the latency of the last second alone.

The snapshot builder calls ``Series.sample`` ten times a second with the run's running totals
(the ledger's counters, which it keeps anyway); once a second has passed, one row is added: what
happened in that second (orders placed, orders finished, fills, rejects, restarts), what stood
at its end (orders resting, memory), and the ack latency of that second alone. No order costs
anything here: a row is a few subtractions and one pass over the latency histogram's buckets.

``WindowedLatency`` gives the percentiles of what a cumulative ``LatencyHistogram`` recorded
since the last look (a start-up stall then shows in its own second and is gone from the next).

Rows are kept for the whole run: past ``most_rows`` the rows are merged in pairs and the
interval doubles (counts add up, levels keep the later value, latency and memory the larger), so
an hour at one row a second and a month at one row in 512 seconds both fit.

Pure model: times are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping

from simulator.stats import LatencyHistogram

# what happened in a row's interval (summed when rows merge)
COUNTS = ("placed", "finished", "fills", "rejects", "cancel_rejects", "restarts", "acks")
# what stood at its end (the later one kept when rows merge)
LEVELS = ("resting",)
# the larger kept when rows merge
PEAKS = ("ack_p50_us", "ack_p99_us", "rss_bank_bytes", "rss_brokers_bytes")
COLUMNS = ("t", *COUNTS, *LEVELS, *PEAKS)
MOST_ROWS = 7200  # two hours a second apart, then coarser


class WindowedLatency:
    """Percentiles of what ``histogram`` recorded since the previous ``take``."""

    def __init__(self, histogram: LatencyHistogram) -> None:
        self.histogram = histogram
        self._mark: dict[int, int] = dict(histogram.counts)

    def take(self) -> dict[str, int]:
        """``count``, ``p50``, ``p99`` and ``max`` (a bucket's top) of the values recorded since the
        last call; zeros when none were."""
        window = LatencyHistogram()
        mark = self._mark
        for bucket, n in self.histogram.counts.items():
            new = n - mark.get(bucket, 0)
            if new:
                window.counts[bucket] = new
                window.count += new
                window.max = max(window.max, LatencyHistogram.bucket_top(bucket))
        self._mark = dict(self.histogram.counts)
        return {
            "count": window.count,
            "p50": window.percentile(50),
            "p99": window.percentile(99),
            "max": window.max,
        }


class Series:
    """The rows of a run, one per ``interval_s`` from ``t = 0`` (the first order)."""

    def __init__(self, ack: LatencyHistogram, *, interval_s: float = 1.0, most_rows: int = MOST_ROWS) -> None:
        self.interval_s = interval_s
        self.most_rows = max(2, most_rows)
        self.rows: list[dict[str, float | int]] = []
        self.last_second: dict[str, int] = {"count": 0, "p50": 0, "p99": 0, "max": 0}
        self._window = WindowedLatency(ack)
        self._totals: dict[str, int] = dict.fromkeys(COUNTS, 0)
        self._next_t = interval_s
        self._base = 1.0  # seconds a new row spans (doubles as rows merge)

    def sample(self, t: float, totals: Mapping[str, int], levels: Mapping[str, int]) -> bool:
        """At ``t`` seconds since the first order, with the run's running ``totals`` (the COUNTS)
        and current ``levels`` (LEVELS and PEAKS but latency): add a row if one is due."""
        if t < self._next_t:
            return False
        self._add(t, totals, levels)
        while self._next_t <= t:
            self._next_t += self.interval_s * self._base
        return True

    def finish(self, t: float, totals: Mapping[str, int], levels: Mapping[str, int]) -> None:
        """The last, partial row, up to ``t`` (the end of the run), unless nothing is left to say."""
        last_t = self.rows[-1]["t"] if self.rows else 0.0
        if t > last_t + 1e-3 or any(totals.get(k, 0) != self._totals[k] for k in COUNTS):
            self._add(max(t, last_t + 1e-3), totals, levels)

    def _add(self, t: float, totals: Mapping[str, int], levels: Mapping[str, int]) -> None:
        lat = self._window.take()
        self.last_second = lat
        row: dict[str, float | int] = {"t": round(t, 3)}
        for k in COUNTS:
            now = int(totals.get(k, 0))
            row[k] = now - self._totals[k]
            self._totals[k] = now
        for k in LEVELS:
            row[k] = int(levels.get(k, 0))
        row["ack_p50_us"], row["ack_p99_us"] = lat["p50"], lat["p99"]
        for k in ("rss_bank_bytes", "rss_brokers_bytes"):
            row[k] = int(levels.get(k, 0))
        self.rows.append(row)
        if len(self.rows) > self.most_rows:
            self._merge_pairs()

    def _merge_pairs(self) -> None:
        rows = self.rows
        merged = []
        for i in range(0, len(rows) - 1, 2):
            a, b = rows[i], rows[i + 1]
            row = {"t": b["t"]}
            row.update({k: a[k] + b[k] for k in COUNTS})
            row.update({k: b[k] for k in LEVELS})
            row.update({k: max(a[k], b[k]) for k in PEAKS})
            merged.append(row)
        if len(rows) % 2:
            merged.append(rows[-1])
        self.rows = merged
        self._base *= 2

    def to_dict(self) -> dict:
        """Columns of equal length: ``t`` (each row's end, seconds since the first order) and one
        list per column; ``interval_s`` is the spacing of the rows (larger after merging)."""
        out: dict = {"interval_s": self.interval_s * self._base}
        out.update({k: [r[k] for r in self.rows] for k in COLUMNS})
        return out
