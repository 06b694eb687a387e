"""Run the stock-order simulator: `python simulate.py --help` lists the flags."""
import signal
import sys

# A Ctrl-C (or SIGTERM, SIGHUP) that lands while the modules below are still importing must
# still end in the clean stop, not a traceback: note it now, the run honours it once it starts.
# A signal the caller chose to ignore (nohup ignores SIGHUP) stays ignored.
EARLY_SIGNALS: list = []
for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    if signal.getsignal(_sig) is not signal.SIG_IGN:
        signal.signal(_sig, lambda signum, _frame: EARLY_SIGNALS.append(signum))

from simulator.cli import main  # noqa: E402

if __name__ == "__main__":
    code = main(early_signals=EARLY_SIGNALS)
    # The run is over and reported. While the interpreter tears down (freeing a large ledger
    # takes a while) it resets our handlers to the defaults: a late Ctrl-C would then kill it
    # and turn a clean exit status into "killed by SIGINT". Ignoring them now keeps the status.
    for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(_sig, signal.SIG_IGN)
    sys.stdout.flush()
    sys.exit(code)
