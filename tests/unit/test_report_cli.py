"""``simulate.py report``: a saved report printed as the run's summary, two compared, a plot
drawn; and every way the files can be wrong, one line each."""

from __future__ import annotations

import copy
import json
import sys

import numpy as np
import pytest

from simulator.cli import main
from simulator.config import EXIT_USAGE, SimConfig
from simulator.report import build_report, summary_text
from simulator.series import Series
from simulator.stats import LatencyHistogram
from simulator.symbol_stats import TradedDigest, account_table
from simulator.testing.report_check import assert_valid_report
from tests.unit.test_report import outcome

pytestmark = pytest.mark.timeout(60)


def a_report(seed: int = 7, digest: str = "ab" * 32, rate: float = 5000.0) -> dict:
    hist = LatencyHistogram()
    series = Series(hist)
    for second in (1, 2, 3):
        hist.record(100 * second, 50)
        totals = {
            "placed": 900 * second,
            "finished": 850 * second,
            "fills": 400 * second,
            "acks": 50 * second,
        }
        series.sample(float(second), {**totals, "restarts": int(second >= 2)}, {"resting": 40})
    figures = {
        "series": series.to_dict(),
        "symbols": {"AAA": {**TradedDigest(["AAA"]).symbol_table()["AAA"], "final_book": None}},
        "accounts": account_table(np.zeros((1, 3), np.int64), np.zeros(3, np.int64), [None], ["AAA"]),
    }
    config = SimConfig(seed=seed, orders=1000, rate=rate, headless=True)
    return assert_valid_report(build_report(config, outcome(figures=figures, fills_digest=digest)))


def saved(tmp_path, report: dict, name: str = "run.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return str(path)


def test_a_saved_report_prints_as_the_summary_of_the_run(tmp_path, capsys):
    report = a_report()
    assert main(["report", saved(tmp_path, report)]) == 0
    assert capsys.readouterr().out == summary_text(report) + "\n"


def test_a_version_2_report_still_prints(tmp_path, capsys):
    old = a_report()
    for key in ("started", "ended", "host", "transport", "series", "symbols", "accounts"):
        del old[key]
    old["version"] = 2
    assert main(["report", saved(tmp_path, old)]) == 0
    out = capsys.readouterr().out
    assert (
        out.startswith("stopped: order limit reached") and "reconciled: yes" in out and "run      " not in out
    )


def test_two_reports_of_the_same_fills_compare_equal(tmp_path, capsys):
    a, b = a_report(rate=1000.0), a_report(rate=10000.0)
    b["throughput"]["orders_per_s"] = 0.8 * a["throughput"]["orders_per_s"]
    b["latency_us"]["ack"]["p99"] = 2 * a["latency_us"]["ack"]["p99"]
    assert main(["report", saved(tmp_path, a, "a.json"), saved(tmp_path, b, "b.json")]) == 0
    out = capsys.readouterr().out
    assert "throughput" in out and "2.00x" in out and "0.80x" in out
    assert "equal" in out and out.rstrip().endswith("fills: the same (equal digests)")
    assert "config: rate 1000 -> 10000" in out


def test_the_same_seed_and_flow_with_other_fills_is_called_a_broken_promise(tmp_path, capsys):
    a, b = a_report(), a_report(digest="cd" * 32)
    assert main(["report", saved(tmp_path, a, "a.json"), saved(tmp_path, b, "b.json")]) == 1
    out = capsys.readouterr().out
    assert "DIFFER" in out and "DIFFERENT although seed and order flow are the same" in out
    assert "config: the same flags" in out


def test_other_seeds_may_have_other_fills(tmp_path, capsys):
    a, b = a_report(seed=1), a_report(seed=2, digest="cd" * 32)
    assert main(["report", saved(tmp_path, a, "a.json"), saved(tmp_path, b, "b.json")]) == 1
    assert "fills: different (the seed or the order flow differ, so they may)" in capsys.readouterr().out


def test_the_plot_draws_a_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    out = tmp_path / "run.png"
    assert main(["report", saved(tmp_path, a_report()), "--plot", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert capsys.readouterr().out.rstrip().endswith(f"plot: {out}")
    two = tmp_path / "two.png"
    assert main(["report", saved(tmp_path, a_report(), "a.json"), saved(tmp_path, a_report(), "b.json"),
                 "--plot", str(two)]) == 0  # fmt: skip
    assert two.read_bytes()[:4] == b"\x89PNG"


def test_the_plot_without_matplotlib_is_one_line_before_anything_is_read(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what an absent package looks like to import
    with pytest.raises(SystemExit) as exc:
        main(["report", str(tmp_path / "missing.json"), "--plot", str(tmp_path / "p.png")])
    assert exc.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs matplotlib, which is not installed: pip install matplotlib" in err
    assert not (tmp_path / "p.png").exists()


def bad_files(tmp_path) -> list[tuple[list[str], str]]:
    (tmp_path / "text.json").write_text("not json {")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00")
    v9 = copy.deepcopy(a_report())
    v9["version"] = 9
    (tmp_path / "v9.json").write_text(json.dumps(v9))
    partial = a_report()
    del partial["series"], partial["fills"]
    (tmp_path / "partial.json").write_text(json.dumps(partial))
    good = saved(tmp_path, a_report())
    t = str(tmp_path)
    return [
        ([f"{t}/missing.json"], f"cannot read {t}/missing.json: No such file or directory"),
        ([t], f"{t} is not a regular file"),
        ([f"{t}/text.json"], f"{t}/text.json is not a report: not JSON (Expecting value at line 1)"),
        ([f"{t}/binary.json"], "is not a report: not UTF-8 text"),
        ([f"{t}/list.json"], "is not a report this simulator reads: not a JSON object"),
        ([f"{t}/v9.json"], "a report of version 9; this simulator reads version 3"),
        ([f"{t}/partial.json"], "is not a report this simulator reads: no fills, series in it"),
        ([good, good, good], "at most two reports, got 3"),
        ([], "the following arguments are required: PATH"),
        ([good, "--plot", f"{t}/no/such/dir/p.png"], "argument --plot: cannot create"),
        ([good, "--plot"], "argument --plot: expected one argument"),
        ([good, "--turbo"], "unrecognized arguments: --turbo"),
    ]


def test_every_bad_file_or_flag_is_one_line_and_exit_2(tmp_path, capsys):
    for argv, expected in bad_files(tmp_path):
        with pytest.raises(SystemExit) as exc:
            main(["report", *argv])
        assert exc.value.code == EXIT_USAGE, argv
        out, err = capsys.readouterr()
        assert out == "" and err.count("\n") == 1, (argv, err)
        assert err.startswith("simulate.py report: error: ") and expected in err, (argv, err)
