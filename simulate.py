"""Run the stock-order simulator: `python simulate.py --help` lists the flags."""
import sys

from simulator.cli import main

if __name__ == "__main__":
    sys.exit(main())
