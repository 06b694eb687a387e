"""Orders per second over the last minute, as a Sparkline."""
from __future__ import annotations

from textual.widgets import Sparkline

from simulator.stats import Snapshot
from tui.format import fmt_rate, throughput_caption


class ThroughputPanel(Sparkline):
    """Textual's Sparkline fed with ``Snapshot.throughput_history`` (one value per second).

    The Sparkline stretches min..max over its height, so the border shows the scale.
    """

    DEFAULT_CSS = """
    ThroughputPanel {
        height: 1fr;
    }
    """

    def show_snapshot(self, snapshot: Snapshot) -> None:
        history = snapshot.throughput_history
        if history == self.data:
            return
        self.data = history
        now = fmt_rate(history[-1]) if history else "-"
        self.border_title = f"orders/s, last minute: {now}"
        self.border_subtitle = throughput_caption(history)
