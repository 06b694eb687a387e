"""Prometheus metrics of a run, made at scrape time from the latest Snapshot and nothing else.

``Published`` is what the bank's thread hands the HTTP server about ten times a second: the
Snapshot and the two latency histograms frozen with it (copied on the bank's thread: the live
histograms belong to it). ``SnapshotCollector`` is a ``prometheus_client`` collector that turns
the latest ``Published`` into metric families when ``/metrics`` is scraped: no metric is
updated per order, nothing is kept between scrapes, and a scrape nobody makes costs nothing.

Every name starts with ``sim_``. Counters only grow during a run (a broker's own counters start
again after a restart: Prometheus' ``rate()`` treats that as a counter reset).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry

from simulator.stats import LatencyHistogram, RunState, Snapshot

# Histogram bounds in microseconds (exposed in seconds). Each latency is counted at the top of
# its LatencyHistogram bucket (at most ~3% above the latency), so a count may land one bound up.
BOUNDS_US = (
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000,
    100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000,
)  # fmt: skip

Buckets = tuple[tuple[int, int], ...]  # (bucket top in us, count), lowest first


@dataclass(frozen=True, slots=True)
class Published:
    """One Snapshot as the HTTP server reads it, with what the Snapshot itself does not carry."""

    snapshot: Snapshot
    at: float  # time.monotonic() when the bank published it
    ack_latency: Buckets = ()  # order due -> its ack known to the bank
    final_latency: Buckets = ()  # order due -> its final state known


def freeze(histogram: LatencyHistogram) -> Buckets:
    """The histogram's buckets as (top in us, count): on the bank's thread, ~10 us."""
    top = LatencyHistogram.bucket_top
    return tuple((top(b), n) for b, n in sorted(histogram.counts.items()))


def cumulative(buckets: Buckets) -> tuple[list[tuple[str, float]], float]:
    """Prometheus ``le`` buckets (cumulative, ending with +Inf) and the sum in seconds (each
    latency taken at its bucket's top)."""
    out: list[tuple[str, float]] = []
    seen = 0
    total_us = 0
    i = 0
    for bound in BOUNDS_US:
        while i < len(buckets) and buckets[i][0] <= bound:
            seen += buckets[i][1]
            total_us += buckets[i][0] * buckets[i][1]
            i += 1
        out.append((repr(bound / 1e6), float(seen)))
    for top, n in buckets[i:]:
        seen += n
        total_us += top * n
    out.append(("+Inf", float(seen)))
    return out, total_us / 1e6


class SnapshotCollector(Collector):
    """Metric families of the latest ``Published`` (``latest()``), made when scraped."""

    def __init__(self, latest: Callable[[], Published | None], clock: Callable[[], float] = time.monotonic):
        self.latest = latest
        self.clock = clock

    def describe(self) -> list:
        return []  # the names depend on the Snapshot; nothing to check at registration

    def collect(self) -> Iterator:
        published = self.latest()
        if published is None:
            return
        s = published.snapshot
        o = s.orders
        yield _gauge("sim_run_info", "The run's seed (always 1).", 1, seed=str(s.seed))
        state = GaugeMetricFamily(
            "sim_run_state", "1 for the run's state, 0 for the others.", labels=["state"]
        )
        for st in RunState:
            state.add_metric([st.value], 1.0 if st == s.state else 0.0)
        yield state
        yield _gauge("sim_elapsed_seconds", "Seconds since the bank process built the run.", s.elapsed_s)
        yield _gauge(
            "sim_snapshot_age_seconds",
            "Seconds since the bank published the Snapshot these metrics come from.",
            max(self.clock() - published.at, 0.0),
        )
        yield _gauge("sim_target_orders_per_second", "The rate asked for; 0 = as fast as possible.", s.rate)
        yield _gauge(
            "sim_orders_per_second", "Orders placed per second, over the last second.", s.orders_per_s
        )
        yield _gauge("sim_fills_per_second", "Trades per second, over the last second.", s.fills_per_s)
        yield CounterMetricFamily("sim_orders_placed", "Orders placed.", o.placed)
        yield CounterMetricFamily("sim_orders_acked", "Orders a broker acknowledged.", o.acked)
        final = CounterMetricFamily(
            "sim_orders_final",
            "Orders by final state (lost is known once the run has stopped).",
            labels=["state"],
        )
        for name, value in (
            ("filled", o.filled),
            ("cancelled", o.cancelled),
            ("rejected", o.rejected),
            ("lost", o.lost),
        ):
            final.add_metric([name], value)
        yield final
        yield _gauge("sim_orders_resting", "Orders resting on a book.", o.resting)
        yield _gauge("sim_orders_in_flight", "Orders and cancel requests sent and not answered.", o.in_flight)
        cancels = CounterMetricFamily(
            "sim_cancel_requests", "Cancel requests by outcome.", labels=["outcome"]
        )
        for name in ("sent", "done", "rejected"):
            cancels.add_metric([name], s.cancel_requests.get(name, 0))
        yield cancels
        yield CounterMetricFamily("sim_fills", "Trades.", s.fills)
        yield CounterMetricFamily("sim_fill_volume_shares", "Shares traded.", s.volume)
        rejects = CounterMetricFamily("sim_rejects", "Rejected orders by reason.", labels=["reason"])
        for reason, n in sorted(s.reject_reasons.items()):
            rejects.add_metric([reason], n)
        yield rejects
        yield from self._processes(s)
        for name, doc, buckets in (
            ("sim_ack_latency_seconds", "From when an order was due to its ack.", published.ack_latency),
            (
                "sim_final_latency_seconds",
                "From when an order was due to its final state.",
                published.final_latency,
            ),
        ):
            le, total = cumulative(buckets)
            yield HistogramMetricFamily(name, doc, buckets=le, sum_value=total)

    @staticmethod
    def _processes(s: Snapshot) -> Iterator:
        bank = next((row for row in s.processes if row.name == "bank"), None)
        yield _gauge(
            "sim_bank_backlog_orders",
            "Orders placed and waiting for room in an inbox.",
            bank.inbox_depth if bank else 0,
        )
        inbox = _family("sim_broker_inbox_depth", "Messages in a broker's inbox not read yet.", "broker")
        age = _family("sim_broker_heartbeat_age_seconds", "Seconds since a broker was last heard.", "broker")
        up = _family("sim_broker_up", "1 while a broker runs and is heard, else 0.", "broker")
        restarts = CounterMetricFamily("sim_broker_restarts", "Restarts of a broker.", labels=["broker"])
        orders = CounterMetricFamily(
            "sim_broker_orders", "Orders a broker's process took.", labels=["broker"]
        )
        cpu = _family("sim_process_cpu_percent", "CPU use of a process of the run (100 = a core).", "process")
        rss = _family(
            "sim_process_resident_memory_bytes", "Resident memory of a process of the run.", "process"
        )
        for row in s.processes:
            cpu.add_metric([row.name], row.cpu_percent)
            rss.add_metric([row.name], row.rss_bytes)
            if row.name == "bank":
                continue
            inbox.add_metric([row.name], row.inbox_depth)
            age.add_metric([row.name], row.heartbeat_age_s)
            up.add_metric([row.name], 1.0 if row.state == "RUNNING" else 0.0)
            restarts.add_metric([row.name], row.restarts)
            orders.add_metric([row.name], row.orders)
        yield from (inbox, age, up, restarts, orders, cpu, rss)


def registry(latest: Callable[[], Published | None]) -> CollectorRegistry:
    """A registry of its own (never prometheus_client's global one) holding only our collector."""
    reg = CollectorRegistry()
    reg.register(SnapshotCollector(latest))
    return reg


def _gauge(name: str, doc: str, value: float, **labels: str) -> GaugeMetricFamily:
    if not labels:
        return GaugeMetricFamily(name, doc, value=value)
    family = GaugeMetricFamily(name, doc, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


def _family(name: str, doc: str, label: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=[label])
