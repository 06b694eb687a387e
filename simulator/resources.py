"""What the run's processes use, for the Snapshots: CPU and memory per process (psutil), and
the wall clock the report's start and end are stamped with."""

from __future__ import annotations

from datetime import UTC, datetime

import psutil


class ResourceSampler:
    """CPU% and RSS of the run's processes, sampled at most once a second (psutil)."""

    def __init__(self) -> None:
        self._procs: dict[int, psutil.Process] = {}
        self._last: dict[int, tuple[float, int]] = {}
        self._next = 0.0

    def sample(self, now: float, pids: list[int]) -> dict[int, tuple[float, int]]:
        if now < self._next:
            return self._last
        self._next = now + 1.0
        out = {}
        for pid in pids:
            proc = self._procs.get(pid)
            try:
                if proc is None:
                    proc = self._procs[pid] = psutil.Process(pid)
                    proc.cpu_percent(None)
                out[pid] = (proc.cpu_percent(None), proc.memory_info().rss)
            except (psutil.Error, OSError):
                out[pid] = (0.0, 0)
        for gone in self._procs.keys() - out.keys():  # a restarted broker's old process
            del self._procs[gone]
        self._last = out
        return out


def utc_now() -> str:
    """The wall clock in UTC, ISO 8601 to the millisecond (2026-12-01T09:56:31.123Z)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
