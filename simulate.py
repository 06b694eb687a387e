"""Run the stock-order simulator: `python simulate.py --help` lists the flags.

The same as ``python -m simulator`` or the installed ``simulate``; see simulator/__main__.py.
"""

import sys

from simulator.__main__ import run

if __name__ == "__main__":
    sys.exit(run())
