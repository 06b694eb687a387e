"""The footer: Textual's, but changed in place when the keys it shows change.

Textual's ``Footer`` recomposes on every change of the bindings: it removes and mounts one
widget per key, each restyled, which cost 30-37 ms a change here (profiled under the
dashboard: most of what ``p`` costs, since pause shows Resume and Step, resume hides Step).
``SteadyFooter`` keeps a ``FooterKey`` for every key it has shown so far and, when the keys to
show are among them in the same order, only updates each one's text and enabled state and
hides the others (``display``): a layout, no mount. Any other change (a key never shown yet,
a new order, binding groups) recomposes, as Textual's does, with the keys known so far.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

if TYPE_CHECKING:
    from textual.screen import Screen

Shown = tuple[str, str, str, str, bool, str, str]  # key, display, description, action, enabled, tip, classes


class SteadyFooter(Footer):
    """A Footer that updates its keys in place (see the module docstring)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._known: list[Shown] = []  # every key shown so far, in the order drawn

    def shown_keys(self) -> list[Shown] | None:
        """The keys to show now, as Textual's Footer shows them; None with binding groups
        (drawn by Textual's own compose)."""
        active = self.screen.active_bindings
        out: list[Shown] = []
        seen: set[str] = set()
        for _node, binding, enabled, tooltip in active.values():
            if not binding.show or binding.action in seen:
                continue
            if binding.group is not None:
                return None
            seen.add(binding.action)
            key_display = self.app.get_key_display(binding)
            out.append((binding.key, key_display, binding.description, binding.action, enabled, tooltip, ""))
        palette = active.get(self.app.COMMAND_PALETTE_BINDING)
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE and palette is not None:
            _node, binding, enabled, _tip = palette
            tip = binding.tooltip or binding.description
            shown = (binding.key, self.app.get_key_display(binding), binding.description, binding.action)
            out.append((*shown, enabled, tip, "-command-palette"))
        return out

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        shown = self.shown_keys()
        if shown is None:
            yield from super().compose()
            return
        self._known = _union(self._known, shown)
        wanted = {_name(s) for s in shown}
        for key, key_display, description, action, enabled, tip, classes in self._known:
            now = next((s for s in shown if _name(s) == (key, action)), None)
            if now is not None:
                description, enabled, tip = now[2], now[4], now[5]
            widget = FooterKey(
                key, key_display, description, action, disabled=not enabled, tooltip=tip, classes=classes
            )
            widget.display = (key, action) in wanted
            # (as Textual's: the palette's key keeps its own compact style)
            yield widget if classes else widget.data_bind(compact=Footer.compact)

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen:
            self.call_after_refresh(self.update_keys)

    async def update_keys(self) -> None:
        """Show the keys of the bindings now: in place if it can, else by recomposing."""
        shown = self.shown_keys()
        widgets = {(w.key, w.action): w for w in self.query_children(FooterKey)}
        names = [_name(s) for s in shown] if shown is not None else []
        order = [_name(k) for k in self._known if _name(k) in names]
        if shown is None or order != names or set(widgets) != {_name(k) for k in self._known}:
            await self.recompose()
            return
        for s in shown:
            widget = widgets[_name(s)]
            widget.description, widget._disabled, widget.display = s[2], not s[4], True
            widget.set_class(not s[4], "-disabled")
            widget.tooltip = s[5] or None
            widget.refresh(layout=True)
        for name in set(widgets) - set(names):
            widgets[name].display = False


def _name(shown: Shown) -> tuple[str, str]:
    return shown[0], shown[3]


def _union(known: list[Shown], shown: list[Shown]) -> list[Shown]:
    """``known`` with the keys of ``shown`` it lacks, each right after the one shown before
    it; when ``shown`` orders the known ones otherwise, ``shown`` first, then the rest."""
    names = [_name(s) for s in shown]
    if [_name(k) for k in known if _name(k) in names] != [n for n in names if n in {_name(k) for k in known}]:
        return shown + [k for k in known if _name(k) not in names]
    out = list(known)
    for i, s in enumerate(shown):
        if _name(s) in {_name(k) for k in out}:
            continue
        before = _name(shown[i - 1]) if i else None
        at = next((j + 1 for j, k in enumerate(out) if _name(k) == before), 0)
        out.insert(at, s)
    return out
