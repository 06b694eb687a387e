"""Restarts without stopping the market: a standby taking a shard over, the flow held back only
by a long queue of the shard being restored, and each restart's gap in the report."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np
import pytest

from simulator import messages as msg
from simulator import wire
from simulator.bank import RESTORING_QUEUE, Bank, StopRequest
from simulator.broker import STANDBY_INDEX, Broker, InboxPump, ResultsLogHandler, standby_spec
from simulator.bus import new_bus
from simulator.config import SimConfig, config_from_args
from simulator.orders import Event
from simulator.processes import OrphanWatch
from simulator.report import build_report, summary_text
from simulator.routing import Routing
from simulator.snapshot_json import snapshot_from_dict, snapshot_to_dict
from simulator.snapshots import Outcome
from simulator.stats import ProcessRow, RunState
from simulator.testing.dashboard import build_snapshot
from simulator.testing.pipe_ends import FakeInbox, FakeResults

ACK, TRADE = int(Event.ACK), int(Event.TRADE)
SPEC = msg.BrokerSpec(index=1, name="broker-2", symbols=("MSFT", "TSLA"), symbol_ids=(3, 5))
MSFT = 3


def standby_pump(payloads):
    results = FakeResults()
    handler = ResultsLogHandler(results, STANDBY_INDEX)
    pump = InboxPump(
        new_bus("test"), Broker(standby_spec()), FakeInbox(payloads), results, OrphanWatch(), handler
    )
    return pump, results, handler


# -- the standby ---------------------------------------------------------------------------------


def test_a_standby_takes_a_shard_over_and_answers_as_that_broker_with_its_books_restored():
    resting = msg.BookState(resting=((7, 3, -1, 100, 10),), match_seq=4, last_price=100, max_oid=7)
    buy = msg.encode(msg.ORDERS, wire.pack([(8, 5, MSFT, 1, 0, 0, 100, 4, 0)], 9))
    pump, results, handler = standby_pump(
        [msg.encode(msg.ASSIGN, SPEC), msg.encode(msg.RESTORE, {"MSFT": resting}), buy]
    )
    pump.main()
    assert pump.broker.spec == SPEC and handler.index == SPEC.index  # its logs name the shard
    [(_kind, (index, consumed, records))] = [m for m in results.sent if m[0] == msg.EVENTS]
    assert (index, consumed) == (SPEC.index, 3)
    # the restored order trades with the new one, numbered on from the restored match count
    assert wire.unpack(records, wire.EVENT_WIDTH) == [(ACK, 8, 0, 0, 0, 0, 0), (TRADE, MSFT, 5, 8, 7, 100, 4)]
    heartbeats = [body for kind, body in results.sent if kind == msg.HEARTBEAT]
    assert heartbeats and heartbeats[-1].index == SPEC.index  # said at once, with the new index


def test_a_second_assign_is_refused_and_counted_the_shard_stays():
    other = replace(SPEC, index=0, name="broker-1", symbols=("AAPL",), symbol_ids=(0,))
    pump, _results, _handler = standby_pump([msg.encode(msg.ASSIGN, SPEC), msg.encode(msg.ASSIGN, other)])
    pump.main()
    assert pump.broker.spec == SPEC
    assert pump.broker.bad_messages == 1


def test_assign_carries_a_broker_spec_and_nothing_else():
    assert msg.decode(msg.encode(msg.ASSIGN, SPEC)) == (msg.ASSIGN, SPEC)
    with pytest.raises(msg.BadMessage, match="ASSIGN body is not a BrokerSpec"):
        msg.decode(msg.encode(msg.ASSIGN, {"index": 1}))


def test_a_standby_is_kept_unless_asked_not_to():
    assert config_from_args(["--headless"]).standby is True
    assert config_from_args(["--headless", "--no-standby"]).standby is False


# -- the flow while a shard is restored -------------------------------------------------------------


@dataclass
class Handle:
    index: int
    restoring: bool = False


class TwoBrokers:
    failed = None
    bad_messages = 0

    def __init__(self) -> None:
        self.brokers = [Handle(0), Handle(1)]


def orders(n: int) -> np.ndarray:
    return np.zeros((n, wire.ORDER_WIDTH), np.int64)


def test_a_shard_being_restored_holds_the_flow_back_only_past_its_queue_bound():
    config = SimConfig(brokers=2, symbols=("AAPL", "MSFT"), headless=True)
    brokers = TwoBrokers()
    bank = Bank(new_bus("test"), config, StopRequest(), brokers, Routing(config.symbols, 2))
    bank.pending = [orders(10), orders(5000)]
    assert bank.held_back == 5010  # no restart: everything waiting holds the flow back
    brokers.brokers[1].restoring = True
    assert bank.held_back == 10  # the other broker's orders flow on
    assert bank.backlog == 5010  # still waiting, none dropped
    bank.pending[1] = orders(RESTORING_QUEUE + 300)
    assert bank.held_back == 310  # bounded: past the queue's bound the whole flow waits


# -- the gap in the report, the Snapshot and the summary --------------------------------------------


def test_each_restarts_gap_is_in_the_report_the_snapshot_json_and_the_summary():
    rows = (
        ProcessRow("bank", 100, "STOPPED"),
        ProcessRow("broker-1", 101, "EXITED", ("AAPL",), restarts=2, exit_code=0, restart_gaps_ms=(6.5, 9.5)),
        ProcessRow("broker-2", 102, "EXITED", ("MSFT",), exit_code=0),
    )
    snapshot = build_snapshot(state=RunState.STOPPED, processes=rows)
    assert snapshot_from_dict(snapshot_to_dict(snapshot)) == snapshot
    outcome = Outcome(
        snapshot=snapshot,
        reconciliation=None,
        stop_reason="duration reached (1 s)",
        fatal=False,
        brokers_clean=True,
        duration_s=1.0,
        drain_s=0.1,
        fills_digest="ab" * 8,
        exit_code=0,
    )
    report = build_report(SimConfig(headless=True), outcome)
    assert [(b["restarts"], b["restart_gaps_ms"]) for b in report["brokers"]] == [(2, [6.5, 9.5]), (0, [])]
    text = summary_text(report)
    assert "gap median 8.0 ms max 9.5 ms" in text
    assert text.count("gap median") == 1  # a broker never restarted has no gap to tell


def test_standby_logs_are_named_standby(caplog):
    caplog.set_level(logging.INFO)
    from simulator.runner import Simulation

    sim = Simulation(SimConfig(brokers=1, symbols=("AAPL",), headless=True))
    sim._relog(msg.LogLine(STANDBY_INDEX, logging.WARNING, "broker", "hello"))
    assert [r.processName for r in caplog.records if r.getMessage() == "hello"] == ["standby"]
