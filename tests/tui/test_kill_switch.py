"""The kill switch on the dashboard: K asks first, and only the key chosen there sends a command."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tui.app import DashboardApp
from tui.format import header_fields
from tui.widgets.kill_switch import KillSwitchScreen

SIZE = (120, 36)
pytestmark = pytest.mark.timeout(60)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("keys", "sent"),
    [(("K", "n"), []), (("K", "escape"), []), (("K", "y"), [("kill_switch", -1)])],
    ids=["no", "escape", "yes"],
)
async def test_k_asks_before_the_kill_switch_does_anything(control, keys, sent):
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press(keys[0])
        await pilot.pause()
        assert isinstance(app.screen, KillSwitchScreen)
        assert control.calls == []  # nothing before the answer
        await pilot.press(keys[1])
        await pilot.pause()
        assert not isinstance(app.screen, KillSwitchScreen)
    assert control.calls == sent


@pytest.mark.asyncio
async def test_the_confirmation_releases_what_the_kill_switch_holds(control, make_snapshot):
    control.current = replace(make_snapshot(), blocked=(3, 7))
    app = DashboardApp(control)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("K", "r")
        await pilot.pause()
    assert control.calls == [("release", -1)]


def test_the_header_says_which_accounts_the_kill_switch_holds(make_snapshot):
    assert ("KILL SWITCH", "accounts 3, 7") in header_fields(replace(make_snapshot(), blocked=(3, 7)))
    assert ("KILL SWITCH", "every account") in header_fields(replace(make_snapshot(), blocked=(-1,)))
    assert not [f for f in header_fields(make_snapshot()) if f[0] == "KILL SWITCH"]
