"""Fixtures of the dashboard tests: a frozen Snapshot and a fake SimControl serving it.

Both come from ``simulator.testing.dashboard`` (the refresh measurement in bench/ uses them too).
"""

from __future__ import annotations

import pytest

from simulator.stats import Snapshot
from simulator.testing.dashboard import FakeControl, build_snapshot


@pytest.fixture
def make_snapshot():
    """``make_snapshot(**changes)``: the frozen Snapshot with some fields replaced."""
    return build_snapshot


@pytest.fixture
def make_control():
    """``make_control(snapshot, hold_stop=False)``: a FakeControl."""
    return FakeControl


# Not named ``snapshot``: that is syrupy's fixture, which snap_compare needs.
@pytest.fixture
def sim_snapshot() -> Snapshot:
    return build_snapshot()


@pytest.fixture
def control(sim_snapshot: Snapshot) -> FakeControl:
    return FakeControl(sim_snapshot)
