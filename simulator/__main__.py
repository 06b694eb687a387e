"""The command line's entry point: ``python -m simulator``, the ``simulate`` console script and
``python simulate.py`` all call ``run()``.

A Ctrl-C (or SIGTERM, SIGHUP) that lands while the simulator is still importing must still end
in the clean stop, not a traceback. So this module imports nothing heavy (``simulator`` itself
is a docstring): ``run()`` notes stop signals first, and only then imports ``simulator.cli``
with its libraries, which takes a while; the run honours a noted signal once it starts.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from simulator import processes  # cheap: it imports multiprocess only when a process starts

if TYPE_CHECKING:
    from collections.abc import Sequence

# A child the simulator spawns (a broker, the dashboard's bank process) imports this module
# first, as its parent's main module: from here on the kernel ends it if its parent dies, so
# a kill -9 of the bank cannot leave a broker that is still importing its libraries behind.
# The child's own set-up (processes.enter_child) then says how it wants to be told.
if processes.in_spawned_child():
    processes.end_with_parent()


def run(argv: Sequence[str] | None = None) -> int:
    """Run the simulator with ``argv`` (default: the command line); its exit status."""
    early = processes.early_signals()
    from simulator.cli import main  # only now: a stop signal during these imports is noted

    code = main(argv, early_signals=early)
    # The run is over and reported. While the interpreter tears down (freeing a large ledger
    # takes a while) it resets our handlers to the defaults: a late Ctrl-C would then kill it
    # and turn a clean exit status into "killed by SIGINT". Ignoring them now keeps the status.
    processes.ignore_stop_signals()
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    sys.exit(run())
