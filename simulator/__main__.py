"""The command line's entry point: ``python -m simulator``, the ``simulate`` console script and
``python simulate.py`` all call ``run()``.

A Ctrl-C (or SIGTERM, SIGHUP) that lands while the simulator is still importing must still end
in the clean stop, not a traceback. So this module imports nothing heavy (``simulator`` itself
is a docstring): ``run()`` notes stop signals first, and only then imports ``simulator.cli``
with its libraries, which takes a while; the run honours a noted signal once it starts.

It also gives the run usable standard streams: a closed one (``<&-``, ``>&-``) gets /dev/null,
and output a reader no longer takes (``| head``) is dropped at the last flush without a word
(``report.flush_output``), so no traceback reaches the user for how they plumbed the shell.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from simulator import processes  # cheap: it imports multiprocess only when a process starts

if TYPE_CHECKING:
    from collections.abc import Sequence


def run(argv: Sequence[str] | None = None) -> int:
    """Run the simulator with ``argv`` (default: the command line); its exit status."""
    open_closed_std_streams()
    early = processes.early_signals()
    try:
        from simulator.cli import main  # only now: a stop signal during these imports is noted

        code = main(argv, early_signals=early)
        # The run is over and reported. While the interpreter tears down (freeing a large
        # ledger takes a while) it resets our handlers to the defaults: a late Ctrl-C would
        # then kill it and turn a clean exit status into "killed by SIGINT". Ignoring them
        # now keeps the status.
        processes.ignore_stop_signals()
    finally:  # also after --help or a usage error (SystemExit), whose text may still be buffered
        from simulator.report import flush_output

        flush_output()
    return code


def open_closed_std_streams() -> None:
    """Give a closed standard descriptor /dev/null, before anything opens a file.

    Python starts with ``sys.stdin`` (``stdout``, ``stderr``) None when its descriptor is
    closed, and the first pipe or file the run opens would take that number: a broker would
    inherit a pipe as its stdout, a stray write to fd 1 or 2 would land in the journal.
    """
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            devnull = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            if devnull != fd:
                os.dup2(devnull, fd)
                os.close(devnull)
        if getattr(sys, name) is None:
            setattr(sys, name, open(fd, "r" if fd == 0 else "w", closefd=False))


if __name__ == "__main__":
    sys.exit(run())
