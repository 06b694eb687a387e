"""Waiting on the dashboard under test: a condition polled with a deadline, never a sleep."""

from __future__ import annotations

import asyncio

from textual.app import App

from tui.widgets.report import ReportScreen


async def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def report_shown(app: App) -> bool:
    """Whether the report screen is up with its text mounted: the screen is pushed before its
    widgets are (on a loaded machine a query right after the push found none)."""
    return isinstance(app.screen, ReportScreen) and bool(app.screen.query("#report-text"))
