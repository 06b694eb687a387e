"""Which symbols the report lists: ``--report-symbols N|all``, the busiest N by default 100.

A report that listed every symbol cost each run in proportion to its symbols whatever it
traded: about 250 bytes of JSON per symbol in the table alone, and each account's positions in
every symbol it touched (41 MB and a fifth of the bank's CPU in a 6 s run of 100,000 symbols).
So the report's per-symbol parts name at most N symbols each: the ``symbols`` table the N
with the most volume (ties to the one listed first in ``--symbols``), each account's
``positions`` its N largest holdings (by shares either way, ties likewise), and
``accounts.marked_to`` the symbols either names. ``symbols_listed`` says how many there are
and how many are listed; totals over all of them are in ``fills``. ``all`` (or any N at least
the symbols) lists every symbol, as a run of few symbols always does.

This module is the flag; the choosing is ``symbol_stats.busiest`` and ``symbol_stats.largest``.
"""

from __future__ import annotations

import argparse

ALL = 100_000  # config.MOST_SYMBOLS: every symbol of any run


def parse(text: str) -> int:
    """``N`` (1 to 100,000) or ``all``."""
    text = text.strip().lower()
    if text == "all":
        return ALL
    if not text.isdigit() or not 1 <= int(text) <= ALL:
        raise argparse.ArgumentTypeError(f"expected a count from 1 to {ALL:,} or 'all', got {text!r}")
    return int(text)


def add_flags(parser: argparse.ArgumentParser, default: int) -> None:
    """``--report-symbols``, into ``SimConfig.report_symbols``."""
    parser.add_argument(
        "--report-symbols",
        metavar="N|all",
        type=parse,
        default=default,
        help="most symbols the report's tables name: the busiest N by volume, each account's N "
        "largest positions ('all': every symbol)",
    )
