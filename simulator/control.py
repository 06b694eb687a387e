"""What a user interface may ask of a running simulation, and nothing more.

The dashboard holds a ``SimControl``: it reads frozen Snapshots and sends commands by name. It
never sees a pipe, a process or the bus. Every method returns at once and is safe to call from
any thread; commands take effect on the bank's next tick.

The commands are defined once, here: ``COMMANDS`` names each one and the type of its argument.
A control forwards a command by name (``control.command("rate", 2000.0)``) through however
many layers lie between the keys and the bank (the dashboard's process, its pipe, the bank
process); only the bank's side (``simulator.runner.Simulation.command``) gives them meaning.
"""

from __future__ import annotations

from typing import Protocol

from simulator.stats import Snapshot

# name -> type of its argument (None: takes none), and what it does
COMMANDS: dict[str, type | None] = {
    "pause": None,  # stop generating orders; processes keep running and counters stay
    "resume": None,  # generate orders again after pause
    "step": None,  # while paused: place the flow's next order now (and watch its symbol)
    "rate": float,  # new target rate in orders/s (0 = as fast as possible)
    "account": int,  # which account's open orders the Snapshots carry
    "order": dict,  # your own order: simulator.own_order's fields; placed from your account
    "cancel": int,  # cancel your order with this id (2**40 + n: #you<n>) behind its broker's orders
    "select": str,  # which symbol's book the Snapshots carry in ``book``
    "tape": str,  # "all": the tape of every symbol, sampled; "watched": the watched symbol's
    "kill": str,  # fault drill: kill -9 the named broker; it is restarted with its books
    "stop": str,  # begin the clean stop, for the reason given
    "kill_switch": int,  # cancel every resting order of this account (-1: of all) and refuse new ones
    "release": int,  # let this account's orders through again (-1: every account's)
}


class BadCommand(ValueError):
    """A command that is not one of ``COMMANDS``, or whose argument is of the wrong type."""


def checked(name: object, arg: object = None) -> tuple[str, object]:
    """(name, argument converted to the command's type), or BadCommand saying why."""
    if not isinstance(name, str) or name not in COMMANDS:
        raise BadCommand(f"unknown command {name!r}")
    kind = COMMANDS[name]
    if kind is None:
        return name, None
    if kind is float and isinstance(arg, (int, float)) and not isinstance(arg, bool):
        return name, float(arg)
    if kind is int and isinstance(arg, bool):
        raise BadCommand(f"{name} takes a whole number, not {arg!r}")
    if isinstance(arg, kind):
        return name, arg
    raise BadCommand(f"{name} takes a {kind.__name__}, not {type(arg).__name__} {arg!r:.40}")


class SimControl(Protocol):
    def snapshot(self) -> Snapshot | None:
        """The latest Snapshot (None before the first one is made)."""

    def command(self, name: str, arg: object = None) -> None:
        """Send one of ``COMMANDS``; it takes effect on the bank's next tick."""

    def request_stop(self, reason: str) -> None:
        """Begin the clean stop (safe inside a signal handler); the Snapshot state turns
        STOPPING, then STOPPED."""

    def wait_stopped(self, timeout: float) -> bool:
        """Block until the run has fully stopped (all brokers joined); False on timeout."""
