"""What ``--help`` tells a new user: every default, the bounds, the replay command, the exit
statuses, and what --log-level does headless."""

from __future__ import annotations

import pytest

from simulator.config import MOST_ACCOUNTS, MOST_BATCH, MOST_BROKERS, MOST_SYMBOLS, build_parser

pytestmark = pytest.mark.timeout(60)


HELP = build_parser().format_help()


def words(text: str) -> str:
    return " ".join(text.split())  # whatever the wrapping


def entry(flag: str) -> str:
    """The options entry of ``flag``: its line and the indented lines under it."""
    start = HELP.index(f"\n  {flag} ") + 1
    end = HELP.find("\n  -", start)
    return words(HELP[start:end])


@pytest.fixture(scope="module")
def help_text() -> str:
    return words(HELP)


def test_the_cancel_ratio_default_is_shown():
    assert "(default: 0.1)" in entry("--cancel-ratio")


@pytest.mark.parametrize(
    ("flag", "default"),
    [("--brokers", "2"), ("--rate", "5000.0"), ("--batch", "256"), ("--accounts", "100"),
     ("--log-level", "INFO"), ("--max-restarts", "3"), ("--symbols", "AAPL,MSFT,")],
)  # fmt: skip
def test_every_flag_with_a_default_shows_it(flag, default):
    assert f"(default: {default}" in entry(flag)


def test_the_bounds_are_said(help_text):
    for bound in (f"at most {MOST_BROKERS}", f"{MOST_ACCOUNTS:,}", f"{MOST_SYMBOLS:,}", f"{MOST_BATCH:,}",
                  "no more brokers than symbols"):  # fmt: skip
        assert bound in help_text, bound


def test_the_replay_command_and_the_exit_statuses_are_said(help_text):
    assert "simulate.py replay PATH" in help_text
    assert "exit status" in help_text
    for status in ("0 the run stopped as asked", "1 an order was lost", "2 a usage error"):
        assert status in help_text, status


def test_the_help_speaks_of_pipes_not_queues(help_text):
    assert "pipe" in help_text and "queue" not in help_text.lower()


def test_the_log_level_help_says_what_it_does_headless():
    assert "headless, stderr shows records from this level" in entry("--log-level")
