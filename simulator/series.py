"""A run second by second: the report's time series, and the latency of the last second alone.

The snapshot builder calls ``Series.sample`` ten times a second with the run's running totals
(the ledger's counters, which it keeps anyway); once a second has passed, one row is added: what
happened in that second (orders placed, orders finished, fills, rejects, restarts), what stood
at its end (orders resting, memory), and the ack latency of that second alone. No order costs
anything here: a row is a few subtractions and one pass over the latency histogram's buckets.

``WindowedLatency`` gives the percentiles of what a cumulative ``LatencyHistogram`` recorded
since the last look (a start-up stall then shows in its own second and is gone from the next).

Rows are kept for the whole run (in arrays): past ``most_rows`` the rows are merged in pairs and the
interval doubles (counts add up, levels keep the later value, latency and memory the larger), so
an hour at one row a second and a month at one row in 512 seconds both fit.

Pure model: times are passed in.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from simulator.stats import LatencyHistogram

# what happened in a row's interval (summed when rows merge)
COUNTS = ("placed", "finished", "fills", "rejects", "cancel_rejects", "restarts", "acks")
# what stood at its end (the later one kept when rows merge)
LEVELS = ("resting",)
# the larger kept when rows merge
PEAKS = ("ack_p50_us", "ack_p99_us", "rss_bank_bytes", "rss_brokers_bytes")
COLUMNS = ("t", *COUNTS, *LEVELS, *PEAKS)
_VALUES = COLUMNS[1:]  # the int64 columns (t is a float's)
_COUNT_AT = [_VALUES.index(k) for k in COUNTS]
_PEAK_AT = [_VALUES.index(k) for k in PEAKS]
MOST_ROWS = 7200  # two hours a second apart, then coarser


class WindowedLatency:
    """Percentiles of what ``histogram`` recorded since the previous ``take``."""

    def __init__(self, histogram: LatencyHistogram) -> None:
        self.histogram = histogram
        self._mark = histogram.array().copy()  # the counts at the last take: no int per bucket

    def take(self) -> dict[str, int]:
        """``count``, ``p50``, ``p99`` and ``max`` (a bucket's top) of the values recorded since the
        last call; zeros when none were."""
        now = self.histogram.array()
        window = LatencyHistogram.of_counts(now - self._mark)
        self._mark[:] = now
        return {
            "count": window.count,
            "p50": window.percentile(50),
            "p99": window.percentile(99),
            "max": window.max,
        }


class Series:
    """The rows of a run, one per ``interval_s`` from ``t = 0`` (the first order).

    Rows are kept in arrays (a float one for ``t``, an int64 one for the other columns) grown
    by doubling up to ``most_rows``: a dict of ints a second, kept for the whole run, spread
    its objects over the interpreter's memory arenas and kept them from being given back.
    ``rows`` gives them as dicts, made when asked."""

    def __init__(self, ack: LatencyHistogram, *, interval_s: float = 1.0, most_rows: int = MOST_ROWS) -> None:
        self.interval_s = interval_s
        self.most_rows = max(2, most_rows)
        self._t = np.zeros(64)
        self._values = np.zeros((64, len(_VALUES)), np.int64)
        self._n = 0
        self.last_second: dict[str, int] = {"count": 0, "p50": 0, "p99": 0, "max": 0}
        self._window = WindowedLatency(ack)
        self._totals: dict[str, int] = dict.fromkeys(COUNTS, 0)
        self._next_t = interval_s
        self._base = 1.0  # seconds a new row spans (doubles as rows merge)

    def __len__(self) -> int:
        return self._n

    @property
    def rows(self) -> list[dict[str, float | int]]:
        """Every row as a dict of ``COLUMNS`` (made now)."""
        return [
            {"t": t, **dict(zip(_VALUES, values))}
            for t, values in zip(self._t[: self._n].tolist(), self._values[: self._n].tolist())
        ]

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
        last_t = float(self._t[self._n - 1]) if self._n else 0.0
        if t > last_t + 1e-3 or any(totals.get(k, 0) != self._totals[k] for k in COUNTS):
            self._add(max(t, last_t + 1e-3), totals, levels)

    def _add(self, t: float, totals: Mapping[str, int], levels: Mapping[str, int]) -> None:
        lat = self._window.take()
        self.last_second = lat
        row: list[int] = []
        for k in COUNTS:
            now = int(totals.get(k, 0))
            row.append(now - self._totals[k])
            self._totals[k] = now
        row += [int(levels.get(k, 0)) for k in LEVELS]
        row += [lat["p50"], lat["p99"]]
        row += [int(levels.get(k, 0)) for k in ("rss_bank_bytes", "rss_brokers_bytes")]
        if self._n == len(self._t):
            size = min(2 * self._n, self.most_rows + 1)
            self._t = np.resize(self._t, size)
            self._values = np.resize(self._values, (size, len(_VALUES)))
        self._t[self._n] = round(t, 3)
        self._values[self._n] = row
        self._n += 1
        if self._n > self.most_rows:
            self._merge_pairs()

    def _merge_pairs(self) -> None:
        n = self._n
        pairs = n // 2
        t, v = self._t[:n], self._values[:n]
        a, b = v[0 : 2 * pairs : 2], v[1 : 2 * pairs : 2]
        merged = b.copy()  # LEVELS: the later one's
        merged[:, _COUNT_AT] = a[:, _COUNT_AT] + b[:, _COUNT_AT]
        merged[:, _PEAK_AT] = np.maximum(a[:, _PEAK_AT], b[:, _PEAK_AT])
        times = t[1 : 2 * pairs : 2].copy()
        if n % 2:
            merged, times = np.vstack((merged, v[-1:])), np.append(times, t[-1])
        self._n = len(times)
        self._t[: self._n], self._values[: self._n] = times, merged
        self._base *= 2

    def to_dict(self) -> dict:
        """Columns of equal length: ``t`` (each row's end, seconds since the first order) and one
        list per column; ``interval_s`` is the spacing of the rows (larger after merging)."""
        out: dict = {"interval_s": self.interval_s * self._base, "t": self._t[: self._n].tolist()}
        columns = self._values[: self._n].T.tolist()
        out.update({k: columns[i] for i, k in enumerate(_VALUES)})
        return {k: out[k] for k in ("interval_s", *COLUMNS)}
