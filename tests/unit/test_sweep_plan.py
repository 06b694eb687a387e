"""What a sweep will run, and every way its flags can be wrong (one line, exit 2, nothing run)."""

from __future__ import annotations

import pytest

from simulator.cli import main
from simulator.config import EXIT_USAGE, OneLineParser
from simulator.sweep_plan import plan
from simulator.sweep_table import Row, digest_check, summary

pytestmark = pytest.mark.timeout(60)


def planned(*varies: str, base: tuple[str, ...] = (), seeds=(1,)):
    return plan(OneLineParser(prog="simulate.py sweep"), list(base), list(varies), list(seeds))


def test_every_combination_runs_once_per_seed_the_first_vary_slowest():
    runs, varied = planned("rate=1000,10000", "brokers=1,2", base=("--orders", "100"), seeds=(5, 6))
    assert varied == ["rate", "brokers"] and len(runs) == 8
    assert [r.label for r in runs[:3]] == ["rate=1000 brokers=1 seed=5", "rate=1000 brokers=1 seed=6",
                                           "rate=1000 brokers=2 seed=5"]  # fmt: skip
    assert runs[-1].argv == ("--orders", "100", "--rate=10000", "--brokers=2", "--seed=6", "--headless")
    assert [r.number for r in runs] == list(range(1, 9))


def test_a_ticker_list_is_a_value_when_values_are_split_on_semicolons():
    runs, _ = planned("symbols=AAPL,MSFT;4", base=("--brokers", "1"))
    assert [dict(r.values)["symbols"] for r in runs] == ["AAPL,MSFT", "4"]


def test_underscores_and_dashes_alike_name_a_flag():
    assert planned("market_ratio=0.1,0.2")[1] == ["market-ratio"]


BATCHES = "batch=" + ",".join(map(str, range(1, 101)))
SWEEP_ERRORS = [
    (["--vary", "rate"], "argument --vary: expected FLAG=V1,V2,..., got 'rate'"),
    (["--vary", "turbo=1,2"], "argument --vary: no run flag --turbo"),
    (["--vary", "seed=1,2"], "argument --vary: --seed cannot be varied (use --seeds N)"),
    (["--vary", "report=a,b"], "argument --vary: --report cannot be varied"),
    (["--vary", "headless=1,2"], "argument --vary: --headless cannot be varied"),
    (["--vary", "http-control=1"], "argument --vary: --http-control is on or off"),
    (["--vary", "rate=1,,2"], "argument --vary: an empty value in 'rate=1,,2'"),
    (["--vary", "rate=1,1"], "argument --vary: a value is listed twice"),
    (["--vary", "rate=1", "--vary", "rate=2"], "argument --vary: --rate is varied twice"),
    (["--vary", "rate=1000,-5"], "run 2 (rate=-5 seed=1): argument --rate: must be at least 0"),
    (["--vary", "brokers=1,9"], "run 2 (brokers=9 seed=1): argument --brokers: 9 brokers for 8 symbols"),
    (["--seeds", "0"], "argument --seeds: must be from 1 to 1,000, got 0"),
    (["--jobs", "x"], "argument --jobs: expected a whole number, got 'x'"),
    (["--turbo"], "unrecognized arguments: --turbo"),
    (["--rate", "fast"], "argument --rate: expected a number, got 'fast'"),
    (["--config", "/no/such.toml"], "argument --config: cannot read /no/such.toml"),
    (["--preset", "nope"], "argument --preset: no preset 'nope'"),
    (["--out", "/no/such/dir/s.csv"], "argument --out: cannot create /no/such/dir/s.csv"),
    (["--reports", "/no/such/dir"], "argument --reports: /no/such/dir is not a directory"),
    (["--run-timeout", "-1"], "argument --run-timeout: must be more than 0"),
    (["--vary", "rate=" + ",".join(map(str, range(101))), "--vary", BATCHES],
     "10,100 runs: a sweep makes at most 10,000"),
]  # fmt: skip


@pytest.mark.parametrize(("argv", "expected"), SWEEP_ERRORS, ids=[" ".join(a)[:40] for a, _ in SWEEP_ERRORS])
def test_a_bad_sweep_is_one_line_and_exit_2_before_any_run(capsys, argv, expected):
    with pytest.raises(SystemExit) as exc:
        main(["sweep", *argv])
    assert exc.value.code == EXIT_USAGE
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1, err
    assert err.startswith("simulate.py sweep: error: ") and expected in err, err


# -- the table and the digest check -----------------------------------------------------------------


def row(number: int, seed: int, rate: str, digest: str, status: str = "ok", orders: int | None = 100) -> Row:
    runs, _ = planned(f"rate={rate}", seeds=(seed,))
    run = runs[0].__class__(number, runs[0].values, seed, runs[0].argv)
    figures = {"orders_per_s": 1000.0 * number, "ack_p50_us": 10, "ack_p99_us": 100 * number,
               "ack_p999_us": 0, "ack_max_us": 0, "placed": 100, "fills": 50}  # fmt: skip
    flow = (("seed", str(seed)), ("orders", str(orders))) if orders else ()
    return Row(run, status, 0 if status == "ok" else 1, 1.0, figures, digest, True, "order limit", flow=flow)


def test_one_digest_per_seed_and_flow_is_said_to_agree():
    text, ok = digest_check([row(1, 1, "10", "aa"), row(2, 1, "20", "aa"), row(3, 2, "10", "bb")])
    assert ok and "the same for every run of one seed and order flow (2 such groups, 3 runs)" in text


def test_two_digests_for_one_seed_and_flow_are_called_out():
    text, ok = digest_check([row(1, 1, "10", "aa"), row(2, 1, "20", "cc")])
    assert not ok and text == "digests: DIFFER for the same seed and order flow: runs 1: aa; runs 2: cc"


def test_runs_stopped_by_time_are_not_compared():
    text, ok = digest_check([row(1, 1, "10", "aa", orders=None), row(2, 1, "20", "cc", orders=None)])
    assert ok and text.startswith("digests: none compared")


def test_the_summary_has_a_line_per_combination_and_names_failed_runs():
    text = summary(
        [row(1, 1, "10", "aa"), row(2, 2, "10", "aa"), row(3, 1, "20", "aa", status="failed")], ["rate"]
    )
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["rate", "runs", "ok"]
    assert lines[1].split()[:3] == ["10", "2", "2"] and "1,500 (1,000-2,000)" in lines[1]
    assert lines[2].split()[:3] == ["20", "1", "0"]
    assert lines[3].startswith("run 3 (rate=20 seed=1): FAILED")
