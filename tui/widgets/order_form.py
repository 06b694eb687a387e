"""Your own order: a form at the bottom of the dashboard (``o``, or the palette's "Your
order") that places an order from your account on the watched symbol.

Side, type, time in force, price and quantity are typed (tab moves between them, enter
places, escape closes). What ``simulator.own_order.check_order`` refuses is refused here, its
reason shown under the fields, and nothing is sent; a valid order is sent as the ``order``
command and the form closes. The dashboard above it goes on living: the book and the tape show
what the order does (your ids read ``#you1``, ``#you2``...).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Input, Label, Static

from simulator.own_order import BadOrder, OwnOrder, check_order

FIELDS = (  # (field, label, default, placeholder, width)
    ("side", "side", "BUY", "BUY/SELL", 7),
    ("type", "type", "LIMIT", "LIMIT/MARKET", 9),
    ("tif", "tif", "DAY", "DAY/IOC", 6),
    ("qty", "qty", "100", "shares", 9),
    ("price", "price $", "", "e.g. 412.50", 12),
)


class OrderForm(Static):
    """The order form: hidden until ``open_for`` shows it for a symbol."""

    BINDINGS = [Binding("escape", "close", "Close", show=False)]

    DEFAULT_CSS = """
    OrderForm {
        dock: bottom;
        display: none;
        height: auto;
        border: round $accent;
        border-title-color: $accent;
        padding: 0 1;
    }
    OrderForm.-open {
        display: block;
    }
    OrderForm Horizontal {
        height: auto;
    }
    OrderForm Label {
        padding: 1 1 0 1;
    }
    OrderForm Input {
        width: auto;
    }
    OrderForm #order-problem {
        color: $error;
        height: auto;
    }
    """

    class Placed(Message):
        """A valid order: the app sends it."""

        def __init__(self, order: OwnOrder) -> None:
            super().__init__()
            self.order = order

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.symbol: str | None = None
        self.symbols: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        with Horizontal():
            for name, label, default, placeholder, width in FIELDS:
                yield Label(label)
                field = Input(value=default, placeholder=placeholder, id=f"order-{name}")
                field.styles.width = width + 4
                yield field
        yield Static("", id="order-problem")

    @property
    def is_open(self) -> bool:
        return self.has_class("-open")

    def open_for(self, symbol: str, symbols: tuple[str, ...]) -> None:
        """Show the form for an order on ``symbol``, the cursor in its first field."""
        self.symbol, self.symbols = symbol, symbols
        self.border_title = f"Your order on {symbol}: enter places it, escape closes"
        self.problem = ""
        self.add_class("-open")
        self.query_one("#order-side", Input).focus()

    def fields(self) -> dict[str, object]:
        values: dict[str, object] = {
            name: self.query_one(f"#order-{name}", Input).value for name, *_ in FIELDS
        }
        values["symbol"] = self.symbol or ""
        return values

    @property
    def problem(self) -> str:
        return str(self.query_one("#order-problem", Static).content)

    @problem.setter
    def problem(self, text: str) -> None:
        self.query_one("#order-problem", Static).update(text)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        try:
            order = check_order(self.fields(), self.symbols)
        except BadOrder as exc:
            self.problem = f"not sent: {exc.field}: {exc.reason}"
            field = exc.field if exc.field in {name for name, *_ in FIELDS} else "side"
            self.query_one(f"#order-{field}", Input).focus()
            return
        self.action_close()
        self.post_message(self.Placed(order))

    def action_close(self) -> None:
        self.remove_class("-open")
        self.problem = ""
        self.screen.set_focus(None)
