"""Every integration test must leave no process of its own behind."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from simulator.testing.procs import leftover_children


@pytest.fixture(autouse=True)
def no_orphans() -> Iterator[None]:
    yield
    left = leftover_children(grace=5.0)
    assert not left, f"processes left behind: {left}"
