"""What a user interface may ask of a running simulation, and nothing more.

The dashboard holds a ``SimControl``: it reads frozen Snapshots and sends a few commands. It never
sees a queue, a process or the bus. Every method returns at once and is safe to call from any
thread; commands take effect on the bank's next tick.
"""
from __future__ import annotations

from typing import Protocol

from simulator.stats import Snapshot


class SimControl(Protocol):
    def snapshot(self) -> Snapshot | None:
        """The latest Snapshot (None before the first one is made)."""

    def pause(self) -> None:
        """Stop generating orders; processes keep running and counters stay."""

    def resume(self) -> None:
        """Generate orders again after ``pause``."""

    def set_rate(self, rate: float) -> None:
        """New target rate in orders/s (0 = as fast as possible)."""

    def select_symbol(self, symbol: str) -> None:
        """Which symbol's book the Snapshots carry in ``book``."""

    def kill_broker(self, name: str) -> None:
        """Fault drill: kill -9 the named broker; the bank restarts it with its books."""

    def request_stop(self, reason: str) -> None:
        """Begin the clean stop; the Snapshot state turns STOPPING, then STOPPED."""

    def wait_stopped(self, timeout: float) -> bool:
        """Block until the run has fully stopped (all brokers joined); False on timeout."""
