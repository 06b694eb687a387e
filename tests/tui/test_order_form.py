"""The order form (o): invalid input refused in the form with its reason and nothing sent; a
valid order sent as the 'order' command for the watched symbol; your orders shown as yours."""

from __future__ import annotations

from dataclasses import replace

import pytest

from simulator.own_order import check_order
from simulator.stats import TapeEvent, YourAccount, YourOrder
from tests.tui.test_app import rendered_text
from tests.tui.waits import wait_until
from tui.app import DashboardApp
from tui.palette import palette_commands
from tui.tape_format import order_id, tape_plain
from tui.widgets.order_form import OrderForm

pytestmark = pytest.mark.timeout(60)
YOURS = 2**40 + 1


def orders_sent(control) -> list:
    return [arg for name, arg in control.calls if name == "order"]


async def fill_in(pilot, app, **values) -> None:
    for name, value in values.items():
        app.query_one(f"#order-{name}").value = value
    await pilot.pause()


@pytest.mark.asyncio
async def test_the_form_refuses_invalid_input_with_its_reason_and_sends_a_valid_order(control):
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(lambda: app.snapshot is not None)
        await pilot.press("o")
        form = app.query_one(OrderForm)
        await wait_until(lambda: form.is_open)
        assert "Your order on MSFT" in str(form.border_title)
        await pilot.press("enter")  # a LIMIT order without a price
        await pilot.pause()
        assert "not sent: price" in form.problem and form.is_open
        await fill_in(pilot, app, price="412.505")
        await pilot.press("enter")
        await pilot.pause()
        assert "whole cents" in form.problem
        await fill_in(pilot, app, side="sell", qty="0", price="412.50")
        await pilot.press("enter")
        await pilot.pause()
        assert "qty" in form.problem and orders_sent(control) == []
        await fill_in(pilot, app, qty="250", tif="ioc")
        await pilot.press("enter")
        await wait_until(lambda: orders_sent(control))
        (sent,) = orders_sent(control)
        order = check_order(sent, ["MSFT"])
        assert (order.symbol, order.side, order.tif, order.price, order.qty) == ("MSFT", -1, 1, 41_250, 250)
        assert not form.is_open
        # typing in the form never steered the run: q, p, digits went into the fields
        assert [name for name, _arg in control.calls] == ["order"]


@pytest.mark.asyncio
async def test_escape_closes_the_form_and_nothing_is_sent(control):
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(lambda: app.snapshot is not None)
        await pilot.press("o")
        await pilot.press("q", "p", "1", "escape")
        await pilot.pause()
        assert not app.query_one(OrderForm).is_open
        assert control.calls == []
        assert app.return_value is None  # q in the form did not quit


@pytest.mark.asyncio
async def test_your_orders_read_as_yours_on_the_tape_and_the_accounts_tab(control, sim_snapshot):
    fill = TapeEvent(99, 3730.0, "fill", "MSFT", 900_300, 1, price=41_262, qty=50, other=YOURS)
    you = YourAccount(
        account=5000, placed=1, open=1, filled_qty=50, pnl=-1200, cash=-2_063_100,
        orders=(YourOrder(YOURS, "MSFT", -1, 0, 0, 41_262, 80, 50, "resting"),),
    )  # fmt: skip
    control.current = replace(sim_snapshot, tape_events=(*sim_snapshot.tape_events, fill), you=you)
    assert order_id(YOURS) == "#you1" and "lifts #you1" in tape_plain(fill)
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(lambda: app.snapshot is not None)
        await pilot.pause()
        assert "lifts #you1" in rendered_text(app.query_one("#tape"))
        await pilot.press("4")
        await pilot.pause()
        text = rendered_text(app.query_one("#accounts-panel"))
        assert "Your account (5000)" in text and "#you1 SELL 80 MSFT @ 412.62: resting, 50 filled" in text


def your_three(sim_snapshot):
    """A Snapshot where you have two open orders and one rejected, with its reason."""
    orders = (
        YourOrder(YOURS, "MSFT", 1, 0, 0, 41_000, 10, 0, "resting"),
        YourOrder(YOURS + 1, "MSFT", -1, 0, 0, 99_000, 20, 0, "rejected", reason=22),
        YourOrder(YOURS + 2, "MSFT", -1, 0, 0, 42_000, 30, 5, "resting"),
    )
    you = YourAccount(account=5000, placed=3, open=2, rejected=1, orders=orders)
    return replace(sim_snapshot, you=you)


@pytest.mark.asyncio
async def test_y_picks_your_open_order_and_c_cancels_it_with_the_reject_reasons_shown(control, sim_snapshot):
    control.current = your_three(sim_snapshot)
    app = DashboardApp(control, ui_hz=50)
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(lambda: app.snapshot is not None)
        await pilot.press("4")
        await pilot.pause()
        text = rendered_text(app.query_one("#accounts-panel"))
        assert "#you2 SELL 20 MSFT @ 990.00: rejected: price band" in text
        assert "\u25b6 #you3" in text and "c: cancel #you3" in text  # the newest open one
        assert "Cancel yours" in " ".join(rendered_text(key) for key in app.query_one("Footer").children)
        await pilot.press("y", "c")  # the next open one, round: #you1
        await wait_until(lambda: ("cancel", YOURS) in control.calls)
        assert "\u25b6 #you1" in rendered_text(app.query_one("#accounts-panel"))
        orders = (replace(o, cancel="sent") if o.oid == YOURS else o for o in control.current.you.orders)
        control.current = replace(control.current, you=replace(control.current.you, orders=tuple(orders)))
        await wait_until(lambda: "resting, cancel sent" in rendered_text(app.query_one("#accounts-panel")))
        await pilot.press("c")  # #you1's cancel is on its way: c cancels the one still open
        await wait_until(lambda: ("cancel", YOURS + 2) in control.calls)


def test_the_palette_cancels_an_order_of_yours_typed_or_listed(sim_snapshot):
    snapshot = your_three(sim_snapshot)
    typed = [c for c in palette_commands("cancel #you7", snapshot) if c.action == "cancel_order"]
    assert [(c.text, c.args) for c in typed] == [
        ("cancel #you7", (YOURS + 6,)),
        ("cancel #you1", (YOURS,)),
        ("cancel #you3", (YOURS + 2,)),
    ]
    hint = [c for c in palette_commands("cancel it", snapshot) if c.text == "cancel #youN"]
    assert hint and hint[0].action == "notify_usage"
