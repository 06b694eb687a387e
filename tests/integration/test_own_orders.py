"""Your own orders in real runs: placed over HTTP into a headless run with a journal, traded
and rested among the flow's, kept through a kill -9 of their broker, cancelled over HTTP (the
book refusing the cancel of one filled already), reconciled and counted apart in the report,
and replayed from the journal to the same fills; the tape of every symbol, merged from both
brokers in placement order, in the same run."""

from __future__ import annotations

import json
import signal

import jsonschema
import pytest

from simulator.report_schema import schema
from simulator.testing.procs import assert_reconciled
from simulator.testing.waiting import deadline_wait
from tests.integration.test_http import call, snapshot, start_run, url_of
from tests.integration.test_journal_runs import replay

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

TOKEN = "own-orders-test-token"


def test_your_orders_trade_rest_survive_a_restart_reconcile_and_replay(tmp_path, monkeypatch):
    monkeypatch.setenv("SIM_HTTP_TOKEN", TOKEN)
    journal = tmp_path / "run.db"
    with start_run(tmp_path, "--rate", "300", "--journal", str(journal), control=True) as sim:
        url = url_of(sim)

        def control(command):
            body = json.dumps(command).encode()
            status, _h, answer = call(url + "/api/control", "POST", body, Authorization=f"Bearer {TOKEN}")
            return status, json.loads(answer)

        def order(**fields):
            return control({"command": "order", "arg": fields})

        deadline_wait(
            lambda: (b := snapshot(url).book) is not None and b.asks and b.bids, 30, "a book with both sides"
        )
        # refused at the door, with the field and the reason: nothing is placed
        status, answer = order(symbol="AAPL", side="BUY", type="LIMIT", tif="DAY", price="1.001", qty=10)
        assert (status, answer["field"]) == (400, "arg.price") and "whole cents" in answer["error"]
        status, answer = order(symbol="AAPL", side="BUY", type="MARKET", tif="IOC", qty=0)
        assert (status, answer["field"]) == (400, "arg.qty")
        assert order(symbol="AAPL", side="BUY", type="MARKET", tif="IOC", qty=40)[0] == 202
        assert order(symbol="AAPL", side="SELL", type="LIMIT", tif="DAY", price="999999", qty=7)[0] == 202

        def settled():
            you = snapshot(url).you
            states = [o.state for o in you.orders] if you is not None else []
            return you is not None and you.filled_qty == 40 and states == ["filled", "resting"] and you

        you = deadline_wait(settled, 30, "your market order filled and your limit resting")
        assert (you.placed, you.open) == (2, 1)
        assert all(o.oid > 2**40 for o in you.orders)
        broker = next(p.name for p in snapshot(url).processes if "AAPL" in p.symbols)
        assert control({"kill": broker})[0] == 202

        def restarted():
            rows = {p.name: p for p in snapshot(url).processes}
            return rows[broker].restarts == 1 and rows[broker].state == "RUNNING"

        deadline_wait(restarted, 30, f"{broker} killed and restarted")
        # your resting order is cancelled over HTTP, after the restart; a flow order is not yours
        status, answer = control({"cancel": 5})
        assert (status, answer["field"]) == (400, "cancel") and "not yours" in answer["error"]
        assert control({"cancel": "#you1"})[0] == 202  # filled already: the book refuses it
        assert control({"command": "cancel", "arg": "#you2"})[0] == 202

        def cancelled():
            you = snapshot(url).you
            ends = [(o.state, o.cancel) for o in you.orders]
            return ends == [("filled", "refused"), ("cancelled", "done")] and you

        you = deadline_wait(cancelled, 30, "your cancel of #you1 refused and of #you2 done")
        assert you.orders[0].reason == 5 and you.open == 0  # ORDER_NOT_RESTING
        # the tape of every symbol: both brokers' books, merged in placement order
        assert control({"tape": "all"})[0] == 202

        def merged():
            snap = snapshot(url)
            news = [e for e in snap.tape_events if e.kind == "new" and e.oid < 2**40]
            began = [e.seq for e in snap.tape_events if e.kind == "watch" and e.symbol == "*"]
            news = [e for e in news if began and e.seq > began[-1]]
            return snap.tape_all and len({e.symbol for e in news}) >= 3 and news

        news = deadline_wait(merged, 30, "the tape of every symbol")
        assert [e.oid for e in news] == sorted(e.oid for e in news)
        placed = snapshot(url).orders.placed
        deadline_wait(lambda: snapshot(url).orders.placed > placed + 300, 30, "the flow going on")
        sim.signal_group(signal.SIGINT)
        assert sim.wait_exit(60) == 0, sim.output()
    report = sim.report()
    assert_reconciled(report)
    jsonschema.validate(report, schema())
    yours = report["you"]
    assert (yours["placed"], yours["filled"], yours["cancelled"], yours["resting"], yours["lost"]) == (
        2,
        1,
        1,
        0,
        0,
    )
    assert [(o["state"], o["cancel"], o["reason"]) for o in yours["orders"]] == [
        ("filled", "refused", "ORDER_NOT_RESTING"),
        ("cancelled", "done", None),
    ]
    assert yours["filled_qty"] == 40 and yours["account"] == report["config"]["accounts"]
    assert any(line.startswith("yours    placed 2 ") for line in sim.stdout), sim.output()
    replayed = replay(journal)
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "identical" in replayed.stdout
