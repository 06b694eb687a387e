"""Orders per second over the last minute, as a Sparkline."""

from __future__ import annotations

from textual.reactive import reactive
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

    snapshot: reactive[Snapshot | None] = reactive(None, repaint=False)
    """The latest Snapshot, bound to the app's; None until the first one."""

    def watch_snapshot(self, snapshot: Snapshot | None) -> None:
        if snapshot is not None:
            self.data = snapshot.throughput_history  # a reactive: repaints only on a change

    def watch_data(self, history: tuple[float, ...] | None) -> None:
        if history is None:
            return
        now = fmt_rate(history[-1]) if history else "-"
        self.border_title = f"orders/s, last minute: {now}"
        self.border_subtitle = throughput_caption(history)
