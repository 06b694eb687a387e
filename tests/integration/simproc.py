"""Moved to ``simulator.testing.procs``; this name stays only while ``tests/tui/ptyrun.py``
still imports ``kill_all`` from here. Delete it once nothing does."""
from __future__ import annotations

from simulator.testing.procs import ROOT, SimProcess, kill_all

__all__ = ["ROOT", "SimProcess", "kill_all"]
