"""Every integration test must leave no process of its own behind."""
from __future__ import annotations

import time

import psutil
import pytest


def _own_children() -> list[psutil.Process]:
    out = []
    for p in psutil.Process().children(recursive=True):
        try:
            cmd = " ".join(p.cmdline())
            # the multiprocess resource tracker lives as long as the test process, by design
            if "resource_tracker" not in cmd and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.Error:
            pass
    return out


@pytest.fixture(autouse=True)
def no_orphans():
    yield
    deadline = time.monotonic() + 5.0
    left = _own_children()
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = _own_children()
    for p in left:
        try:
            p.kill()
        except psutil.Error:
            pass
    assert not left, f"processes left behind: {[(p.pid, p.cmdline()) for p in left]}"
