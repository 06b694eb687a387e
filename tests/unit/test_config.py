"""Unit tests for simulator.config: command-line flags resolved into a frozen SimConfig."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest

from simulator.config import DEFAULT_SYMBOLS, EXIT_USAGE, SimConfig, config_from_args

pytestmark = pytest.mark.timeout(60)


def parse(*argv: str, isatty: bool = True) -> SimConfig:
    return config_from_args(list(argv), isatty=isatty)


# -- good values ------------------------------------------------------------------------------


def test_no_flags_give_the_documented_defaults_with_a_chosen_seed():
    config = parse()
    assert dataclasses.replace(config, seed=0) == SimConfig()
    assert config.brokers == 2
    assert config.symbols == DEFAULT_SYMBOLS
    assert config.rate == 5000.0
    assert config.orders is None and config.duration is None
    assert config.batch == 256 and config.accounts == 100
    assert (config.market_ratio, config.ioc_ratio, config.cancel_ratio) == (0.05, 0.10, 0.10)
    assert config.invalid_ratio == 0.001
    assert config.log_level == "INFO"
    assert config.headless is False


def test_every_flag_value_reaches_the_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # r.json and l.log are checked where they would be written
    config = parse(
        "--brokers", "2", "--symbols", "ibm,ge", "--rate", "0", "--orders", "1000",
        "--duration", "2.5", "--seed", "99", "--batch", "8", "--accounts", "7",
        "--market-ratio", "0", "--ioc-ratio", "0.5", "--cancel-ratio", "0.25",
        "--invalid-ratio", "0.25", "--headless", "--report", "r.json", "--log-file", "l.log",
        "--log-level", "debug", "--ui-hz", "4", "--stop-timeout", "3",
    )  # fmt: skip
    assert config == SimConfig(
        brokers=2, symbols=("IBM", "GE"), rate=0.0, orders=1000, duration=2.5, seed=99, batch=8,
        accounts=7, market_ratio=0.0, ioc_ratio=0.5, cancel_ratio=0.25, invalid_ratio=0.25,
        headless=True, report="r.json", log_file="l.log", log_level="DEBUG", ui_hz=4.0,
        stop_timeout=3.0,
    )  # fmt: skip


def test_a_symbol_count_gives_that_many_distinct_four_letter_tickers():
    symbols = parse("--symbols", "5").symbols
    assert len(symbols) == 5 and len(set(symbols)) == 5
    for name in symbols:
        assert len(name) == 4 and name.isalpha() and name.isupper(), name


def test_a_symbol_count_gives_the_same_tickers_every_time():
    assert parse("--symbols", "5").symbols == parse("--symbols", "5").symbols
    assert parse("--symbols", "50").symbols[:5] == parse("--symbols", "5").symbols


def test_the_largest_symbol_count_gives_distinct_tickers():
    symbols = parse("--symbols", "10000").symbols
    assert len(set(symbols)) == 10000


def test_a_comma_list_of_symbols_is_uppercased_and_stripped_in_order():
    assert parse("--symbols", " aapl, Msft ,brk.b").symbols == ("AAPL", "MSFT", "BRK.B")


def test_without_seed_a_positive_seed_is_chosen():
    seeds = {parse().seed for _ in range(5)}
    assert all(isinstance(s, int) and s > 0 for s in seeds)
    assert len(seeds) > 1  # chosen afresh for every run


@pytest.mark.parametrize("seed", ["0", "1", "123456789"])
def test_a_given_seed_is_kept(seed):
    assert parse("--seed", seed).seed == int(seed)


def test_the_banner_prints_the_resolved_seed():
    from simulator.cli import banner

    config = parse()
    assert f"seed {config.seed}," in banner(config)


def test_headless_is_forced_without_a_terminal():
    assert parse(isatty=False).headless is True
    assert parse(isatty=True).headless is False
    assert parse("--headless", isatty=True).headless is True


def test_log_level_is_case_insensitive():
    assert parse("--log-level", "warning").log_level == "WARNING"


def test_to_dict_round_trips_every_field():
    config = parse("--symbols", "ibm,ge", "--orders", "10", "--report", "x.json")
    d = config.to_dict()
    assert set(d) == {f.name for f in dataclasses.fields(SimConfig)}
    assert d["symbols"] == ["IBM", "GE"]
    assert SimConfig(**{**d, "symbols": tuple(d["symbols"])}) == config
    assert json.loads(json.dumps(d)) == d  # what the JSON report stores


def test_config_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        parse().brokers = 5  # type: ignore[misc]


# -- bad values ---------------------------------------------------------------------------------

BAD = [
    ("--brokers", "0"),
    ("--brokers", "-1"),
    ("--brokers", "two"),
    ("--brokers", "1.5"),
    ("--brokers", ""),
    ("--rate", "-1"),
    ("--rate", "fast"),
    ("--rate", "inf"),
    ("--rate", "nan"),
    ("--orders", "0"),
    ("--orders", "-5"),
    ("--orders", "many"),
    ("--duration", "0"),
    ("--duration", "-1"),
    ("--duration", "soon"),
    ("--duration", "inf"),
    ("--seed", "-1"),
    ("--seed", "x"),
    ("--batch", "0"),
    ("--batch", "-3"),
    ("--batch", "big"),
    ("--accounts", "0"),
    ("--accounts", "-1"),
    ("--accounts", "lots"),
    ("--market-ratio", "1.5"),
    ("--market-ratio", "-0.1"),
    ("--market-ratio", "half"),
    ("--ioc-ratio", "2"),
    ("--ioc-ratio", "-1"),
    ("--cancel-ratio", "1.01"),
    ("--cancel-ratio", "nan"),
    ("--invalid-ratio", "-0.001"),
    ("--invalid-ratio", "inf"),
    ("--symbols", "AAPL,aapl"),
    ("--symbols", "MSFT,MSFT"),
    ("--symbols", "1ABC"),
    ("--symbols", "TOOLONGNAME"),
    ("--symbols", "AA PL"),
    ("--symbols", "AAPL,,MSFT"),
    ("--symbols", ""),
    ("--symbols", "?BAD"),
    ("--symbols", "0"),
    ("--symbols", "100001"),
    ("--log-level", "trace"),
    ("--log-level", "20"),
    ("--ui-hz", "0"),
    ("--ui-hz", "-2"),
    ("--stop-timeout", "0"),
    ("--stop-timeout", "never"),
    # every number has an upper bound too: what the parser accepts must run
    ("--brokers", "33"),
    ("--brokers", "1000000000"),
    ("--rate", "1e308"),
    ("--rate", "10000001"),
    ("--orders", "1000000000001"),
    ("--duration", "1e308"),
    ("--seed", str(2**63)),
    ("--batch", "65537"),
    ("--batch", "1000000"),
    ("--accounts", "1000001"),
    ("--accounts", "1e12"),
    ("--accounts", "1000000000000"),
    ("--ui-hz", "1e308"),
    ("--ui-hz", "1e-300"),
    ("--stop-timeout", "1e308"),
    ("--hang-timeout", "1e308"),
    ("--hang-timeout", "nan"),
    ("--max-restarts", "1001"),
    ("--kill-broker-every", "1e308"),
    ("--kill-broker-every", "0"),
    # an empty path is a mistake, not "no file"
    ("--report", ""),
    ("--log-file", ""),
    ("--journal", ""),
    ("--journal", ":memory:"),
]


def assert_usage_error(capsys, argv: list[str], flag: str) -> None:
    with pytest.raises(SystemExit) as exc:
        config_from_args(argv, isatty=False)
    assert exc.value.code == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == ""
    assert err.endswith("\n") and err.count("\n") == 1, repr(err)
    assert flag in err, err


@pytest.mark.parametrize(("flag", "value"), BAD, ids=[f"{f} {v!r}" for f, v in BAD])
def test_a_bad_value_exits_2_with_one_line_naming_the_flag(capsys, flag, value):
    assert_usage_error(capsys, [flag, value], flag)


@pytest.mark.parametrize(("flag", "value"), BAD[::4], ids=[f"{f}={v!r}" for f, v in BAD[::4]])
def test_a_bad_value_given_with_equals_exits_2_naming_the_flag(capsys, flag, value):
    assert_usage_error(capsys, [f"{flag}={value}"], flag)


@pytest.mark.parametrize(
    "flag", ["--brokers", "--symbols", "--rate", "--seed", "--log-level", "--stop-timeout"]
)
def test_a_flag_without_its_value_exits_2_naming_the_flag(capsys, flag):
    assert_usage_error(capsys, [flag], flag)


def test_an_unknown_flag_exits_2_naming_it(capsys):
    assert_usage_error(capsys, ["--brokers", "2", "--turbo"], "--turbo")


def test_a_bad_value_after_good_ones_still_names_the_bad_flag(capsys):
    assert_usage_error(capsys, ["--brokers", "2", "--rate", "10", "--batch", "0"], "--batch")


@pytest.mark.parametrize("flag", ["--market-ratio", "--rate", "--duration"])
def test_a_bad_value_with_a_trailing_newline_still_gives_one_line(capsys, flag):
    assert_usage_error(capsys, [flag, "-2\n"], flag)


def test_a_cancel_ratio_the_flow_cannot_send_exits_2_naming_the_flag(capsys):
    assert_usage_error(capsys, ["--cancel-ratio", "0.9"], "--cancel-ratio")
    # the bound follows the other ratios: fewer DAY orders, fewer cancels possible
    assert_usage_error(capsys, ["--cancel-ratio", "0.3", "--market-ratio", "0.6"], "--cancel-ratio")


def test_the_highest_cancel_ratio_the_flow_can_send_is_accepted():
    from simulator.config import SimConfig
    from simulator.flow import OrderFlow

    d = SimConfig()
    most = OrderFlow.max_cancel_ratio(d.market_ratio, d.ioc_ratio, d.invalid_ratio)
    assert 0.4 < most < 0.5
    assert config_from_args(["--cancel-ratio", f"{most - 1e-9:.12f}"], isatty=False).cancel_ratio < most


def test_the_largest_values_of_every_bound_are_accepted():
    from simulator import config as c

    config = parse(
        "--brokers", str(c.MOST_BROKERS), "--symbols", str(c.MOST_SYMBOLS), "--rate", "10000000",
        "--orders", str(c.MOST_ORDERS), "--duration", str(c.MOST_SECONDS), "--seed", str(c.MOST_SEED),
        "--batch", str(c.MOST_BATCH), "--accounts", str(c.MOST_ACCOUNTS),
        "--ui-hz", "60", "--stop-timeout", "3600", "--hang-timeout", "3600",
        "--max-restarts", str(c.MOST_RESTARTS), "--kill-broker-every", str(c.MOST_SECONDS),
    )  # fmt: skip
    assert config.brokers == 32 and config.batch == 65536 and config.seed == 2**63 - 1


def test_an_abbreviated_flag_is_not_taken_for_the_whole_one(capsys):
    # `--symbol AAPL` once meant --symbols AAPL and left the second broker idle without a word
    assert_usage_error(capsys, ["--symbol", "AAPL"], "--symbol")
    assert_usage_error(capsys, ["--broker", "3"], "--broker")


def test_more_brokers_than_symbols_names_the_brokers_flag_when_it_was_given(capsys):
    assert_usage_error(capsys, ["--brokers", "3", "--symbols", "AAPL,MSFT"], "--brokers")


def test_too_few_symbols_for_the_default_brokers_names_the_symbols_flag(capsys):
    with pytest.raises(SystemExit):
        config_from_args(["--symbols", "AAPL"], isatty=False)
    err = capsys.readouterr().err
    assert err.startswith("simulate.py: error: argument --symbols: ") and "--brokers 1" in err, err


def test_as_many_brokers_as_symbols_is_fine():
    assert parse("--brokers", "2", "--symbols", "AAPL,MSFT").brokers == 2


def test_the_most_symbols_and_the_most_accounts_go_together():
    # positions were a symbols x accounts int64 array (5e7 accounts took 3.2 GB): now sparse
    from simulator import config as c

    config = parse("--symbols", str(c.MOST_SYMBOLS), "--accounts", str(c.MOST_ACCOUNTS), "--brokers", "4")
    assert len(config.symbols) == 100_000 and config.accounts == 1_000_000


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--market-ratio", "1"], "--market-ratio"),
        (["--invalid-ratio", "1"], "--invalid-ratio"),
        (["--ioc-ratio", "1", "--market-ratio", "0.9"], "--market-ratio"),
    ],
)
def test_ratios_that_leave_no_room_for_the_default_cancels_name_the_ratio_given(capsys, argv, named):
    with pytest.raises(SystemExit) as exc:
        config_from_args(argv, isatty=False)
    assert exc.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith(f"simulate.py: error: argument {named}: "), err
    for flag in argv[::2]:
        assert flag in err, (flag, err)


def test_a_closed_stdin_or_stdout_means_headless_not_a_crash(monkeypatch):
    monkeypatch.setattr("sys.stdin", None)  # what Python leaves for `<&-`
    assert config_from_args([]).headless is True
    monkeypatch.setattr("sys.stdin", open(os.devnull))
    monkeypatch.setattr("sys.stdout", None)
    assert config_from_args([]).headless is True


def test_the_flags_given_are_told_apart_from_defaults():
    from simulator.config import parse_flags

    config, given = parse_flags(["--log-level", "info", "--brokers", "2"], isatty=False)
    assert config.log_level == "INFO"
    assert given == {"log_level", "brokers"}
    assert parse_flags([], isatty=False)[1] == frozenset()
