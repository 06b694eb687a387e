"""The dashboard's panels, one per module; each draws one slice of a Snapshot."""

from tui.widgets.accounts import AccountsPanel
from tui.widgets.book import BookPanel
from tui.widgets.chart import PriceChart
from tui.widgets.log_panel import LogPanel
from tui.widgets.market import MarketTable
from tui.widgets.processes import ProcessTable
from tui.widgets.status import StatusBar
from tui.widgets.tape import TapePanel
from tui.widgets.throughput import ThroughputPanel
from tui.widgets.totals import TotalsPanel

__all__ = [
    "AccountsPanel",
    "BookPanel",
    "LogPanel",
    "MarketTable",
    "PriceChart",
    "ProcessTable",
    "StatusBar",
    "TapePanel",
    "ThroughputPanel",
    "TotalsPanel",
]
