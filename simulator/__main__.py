"""The command line's entry point: ``python -m simulator``, the ``simulate`` console script and
``python simulate.py`` all call ``run()``.

A Ctrl-C (or SIGTERM, SIGHUP) that lands while the simulator is still importing must still end
in the clean stop, not a traceback. So this module imports nothing heavy (``simulator`` itself
is a docstring): ``run()`` notes stop signals first, and only then imports ``simulator.cli``
with its libraries, which takes a while; the run honours a noted signal once it starts.
"""
from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

# In this order: the signal drill (bench/stress_signals.py) reads SIGHUP caught as "all ours".
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def note_early_signals() -> list[int]:
    """Catch the stop signals into a list until the run installs its own handlers.

    A signal the caller chose to ignore (nohup ignores SIGHUP) stays ignored.
    """
    early: list[int] = []
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, lambda signum, _frame: early.append(signum))
    return early


def run(argv: Sequence[str] | None = None) -> int:
    """Run the simulator with ``argv`` (default: the command line); its exit status."""
    early = note_early_signals()
    from simulator.cli import main  # only now: a stop signal during these imports is noted

    code = main(argv, early_signals=early)
    # The run is over and reported. While the interpreter tears down (freeing a large ledger
    # takes a while) it resets our handlers to the defaults: a late Ctrl-C would then kill it
    # and turn a clean exit status into "killed by SIGINT". Ignoring them now keeps the status.
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(run())
