"""Run the stock-order simulator: `python simulate.py --help` lists the flags."""
import signal
import sys

# A Ctrl-C (or SIGTERM, SIGHUP) that lands while the modules below are still importing must
# still end in the clean stop, not a traceback: note it now, the run honours it once it starts.
EARLY_SIGNALS: list = []
for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, lambda signum, _frame: EARLY_SIGNALS.append(signum))

from simulator.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(early_signals=EARLY_SIGNALS))
