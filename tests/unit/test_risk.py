"""Pre-trade risk and the kill switch, piece by piece: the gate, the live exposure, the books'
CANCEL_ALL, the flags, the control command and the palette."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simulator import messages as msg
from simulator import wire
from simulator.book import OrderBook
from simulator.broker import Broker, InboxPump
from simulator.bus import new_bus
from simulator.config import EXIT_USAGE, SimConfig, config_from_args
from simulator.flow import OrderFlow
from simulator.http_api import BadRequest, parse_command
from simulator.ledger import Ledger
from simulator.orders import Event, OrderType, RejectReason
from simulator.processes import OrphanWatch
from simulator.risk import ALL_ACCOUNTS, RiskGate
from simulator.risk_exposure import LiveExposure
from simulator.stats import LatencyHistogram, YourAccount
from simulator.testing.dashboard import build_snapshot
from simulator.testing.pipe_ends import FakeInbox, FakeResults
from tui.palette import palette_commands

pytestmark = pytest.mark.timeout(60)

LIMIT, MARKET, CANCEL = int(OrderType.LIMIT), int(OrderType.MARKET), int(OrderType.CANCEL)
R = RejectReason


def limits(**given) -> SimConfig:
    return dataclasses.replace(SimConfig(), **given)


def rows(*orders) -> np.ndarray:
    """(oid, account, sym, side, otype, price, qty[, target]) as wire order records (DAY)."""
    out = [(o[0], o[1], o[2], o[3], o[4], 0, o[5], o[6], o[7] if len(o) > 7 else 0) for o in orders]
    return np.array(out, np.int64).reshape(-1, wire.ORDER_WIDTH)


# -- the per-order checks -----------------------------------------------------------------------


def test_each_per_order_limit_refuses_with_its_own_reason_and_cancels_always_pass():
    gate = RiskGate(limits(max_order_qty=500, max_notional=1000.0, price_band_pct=1.0), 10)
    orders = rows(
        (1, 0, 0, 1, LIMIT, 10_000, 500),  # 500 x $100 = $50,000: over the notional
        (2, 0, 0, 1, LIMIT, 100, 600),  # 600 shares: over the quantity
        (3, 0, 0, 1, LIMIT, 101, 100),  # $1.01 x 100 under the notional; 1% off: inside the band
        (4, 0, 1, -1, LIMIT, 98, 5),  # 2% below the reference of 100: outside a 1% band
        (5, 0, 1, -1, LIMIT, 99, 5),  # 1% below: inside
        (6, 0, 1, 1, MARKET, 0, 9),  # a market order valued at the reference: $9
        (7, 0, 1, 1, MARKET, 0, 11),  # $1,100 at the reference: over the notional
        (8, 0, 0, 0, CANCEL, 0, 0, 2),  # a cancel takes risk away: never refused
        (9, 0, 0, 1, LIMIT, 100, 0),  # its broker refuses it (QTY_NOT_POSITIVE): left to it
        (10, 0, -1, 1, LIMIT, 100, 900),  # an unknown symbol: left to its broker as well
    )
    refs = np.array([10_000, 100, 100, 100, 100, 100, 10_000, 100, 100, 100])
    reasons = gate.check(orders, refs, 0, 0)
    assert reasons is not None
    assert reasons.tolist() == [
        R.NOTIONAL_LIMIT,
        R.ORDER_QTY_LIMIT,
        0,
        R.PRICE_BAND,
        0,
        0,
        R.NOTIONAL_LIMIT,
        0,
        0,
        0,
    ]
    assert gate.refusals == {R.NOTIONAL_LIMIT: 2, R.ORDER_QTY_LIMIT: 1, R.PRICE_BAND: 1}


def test_no_limit_and_no_kill_switch_leave_the_gate_inactive():
    gate = RiskGate(SimConfig(), 10)
    assert not gate.active
    gate.kill(3)
    assert gate.active
    gate.release(3)
    assert not gate.active


def flow_rows(n: int, seed: int = 11):
    flow = OrderFlow(("AAPL", "MSFT", "NVDA"), seed=seed, accounts=8, invalid_ratio=0.01)
    out, refs = [], []
    for chunk in (1, 7, 300, 2048, 5000, 13, n):
        out.append(flow.generate(chunk))
        refs.append(flow.last_refs)
    return np.concatenate(out), np.concatenate(refs)


def judged(
    gate: RiskGate, orders: np.ndarray, refs: np.ndarray, step_ns: int, chunks: list[int]
) -> list[int]:
    out, at = [], 0
    for size in chunks:
        found = gate.check(orders[at : at + size], refs[at : at + size], step_ns, 0)
        out += [0] * min(size, len(orders) - at) if found is None else found.tolist()
        at += size
    return out


@pytest.mark.parametrize("step_ns", [50_000, 1_000_000])  # 20,000 and 1,000 orders a second
def test_the_same_orders_are_refused_however_the_flow_is_cut_into_batches(step_ns):
    orders, refs = flow_rows(4000)
    flags = dict(max_order_qty=900, price_band_pct=0.01, max_notional=300_000.0, max_orders_per_s=40)
    whole = judged(RiskGate(limits(**flags), 8), orders, refs, step_ns, [len(orders)])
    pieces = judged(RiskGate(limits(**flags), 8), orders, refs, step_ns, [1, 5, 256, 3, 1024] * 40)
    assert whole == pieces
    assert {R.ORDER_QTY_LIMIT, R.PRICE_BAND, R.NOTIONAL_LIMIT, R.ORDER_RATE_LIMIT} <= set(whole)


def test_the_rate_limit_passes_at_most_n_orders_per_account_in_each_second_of_the_flow_clock():
    gate = RiskGate(limits(max_orders_per_s=3), 4)
    # ten orders of account 1 a tenth of a second apart: seconds 0 and 1
    orders = rows(*[(oid, 1, 0, 1, LIMIT, 100, 10) for oid in range(1, 21)])
    passed = [r == 0 for r in judged(gate, orders, np.full(20, 100), 100_000_000, [4, 9, 7])]
    assert [sum(passed[:10]), sum(passed[10:])] == [3, 3]
    assert passed[:3] == [True] * 3 and passed[10:13] == [True] * 3


# -- the kill switch ----------------------------------------------------------------------------


def test_the_kill_switch_refuses_the_accounts_it_holds_until_released():
    gate = RiskGate(SimConfig(), 4)
    orders = rows((1, 1, 0, 1, LIMIT, 100, 10), (2, 2, 0, 1, LIMIT, 100, 10), (3, 1, 0, 0, CANCEL, 0, 0, 1))
    refs = np.full(3, 100)
    gate.kill(1)
    assert gate.check(orders, refs, 0, 0).tolist() == [R.KILL_SWITCH, 0, 0]  # its cancels pass
    gate.kill(ALL_ACCOUNTS)
    assert gate.blocked() == (ALL_ACCOUNTS,)
    assert gate.check(orders, refs, 0, 0).tolist() == [R.KILL_SWITCH, R.KILL_SWITCH, 0]
    assert not gate.release(2)  # held as one of every account: only "all" releases it
    assert gate.release(ALL_ACCOUNTS) and gate.check(orders, refs, 0, 0) is None


def test_a_book_cancels_an_accounts_resting_orders_up_to_an_id_and_stays_a_book():
    book = OrderBook("AAPL")
    out: list = []
    for oid, account, side, price in [
        (1, 7, 1, 99),
        (2, 8, 1, 99),
        (3, 7, -1, 101),
        (4, 7, 1, 98),
        (5, 7, 1, 97),
    ]:
        book.submit_into(out, oid, account, side, LIMIT, 0, price, 10)
    out.clear()
    assert book.cancel_account_into(out, 7, 4) == 3  # order 5 came after the kill: it stays
    it = iter(out)
    assert list(zip(*[it] * 7)) == [(int(Event.CANCELLED), oid, 10, 0, 0, 0, 0) for oid in (1, 3, 4)]
    assert [o[0] for o in book.resting()] == [2, 5]
    assert book.best_ask() is None and book.depth(5)[0] == [(99, 10, 1), (97, 10, 1)]
    out.clear()
    assert book.cancel_account_into(out, 7, 4) == 0 and out == []  # asked again: nothing more
    book.submit_into(out, 6, 9, -1, LIMIT, 0, 99, 10)  # it still matches, at its best bid
    assert (int(Event.TRADE), 0, 1, 2, 6, 99, 10) in list(zip(*[iter(out)] * 7))


def test_a_broker_answers_cancel_all_with_the_cancels_of_every_book_it_holds():
    spec = msg.BrokerSpec(index=0, name="broker-1", symbols=("MSFT", "TSLA"), symbol_ids=(0, 1))
    orders = [
        (1, 5, 0, 1, LIMIT, 0, 100, 10, 0),
        (2, 5, 1, -1, LIMIT, 0, 200, 10, 0),
        (3, 6, 1, 1, LIMIT, 0, 150, 10, 0),
    ]
    inbox = FakeInbox(
        [
            msg.encode(msg.ORDERS, wire.pack(orders, wire.ORDER_WIDTH)),
            msg.encode(msg.CANCEL_ALL, (ALL_ACCOUNTS, 2)),
        ]
    )
    results = FakeResults()
    pump = InboxPump(new_bus("test"), Broker(spec), inbox, results, OrphanWatch())
    pump.main()
    evs = [
        e for kind, body in results.sent if kind == msg.EVENTS for e in wire.unpack(body[2], wire.EVENT_WIDTH)
    ]
    assert [e[:3] for e in evs if e[0] == int(Event.CANCELLED)] == [
        (4, 1, 10),
        (4, 2, 10),
    ]  # not 3: placed later
    assert {b.symbol: [o[0] for o in b.resting()] for b in pump.broker.books.values()} == {
        "MSFT": [],
        "TSLA": [3],
    }


@pytest.mark.parametrize("body", [(1,), ("1", 2), (-2, 5), [1, 2]])
def test_a_cancel_all_that_is_no_account_and_id_is_a_bad_message(body):
    with pytest.raises(msg.BadMessage):
        msg.decode(msg.encode(msg.CANCEL_ALL, body))


# -- the live exposure -----------------------------------------------------------------------------


def test_open_orders_and_positions_are_bounded_by_what_the_bank_knows_and_what_it_let_through():
    led = Ledger(("AAPL", "MSFT"), 4)
    exposure = LiveExposure(led.window, led.positions_held, 2, max_open=2, max_position=300)
    gate = RiskGate(limits(max_open_orders=2, max_position=300), 4, exposure)
    hist = LatencyHistogram()
    first = rows((1, 1, 0, 1, LIMIT, 100, 200), (2, 2, 0, -1, LIMIT, 100, 200))
    assert gate.check(first, np.full(2, 100), 0, 0) is None
    led.place(first, 0)
    led.apply([(Event.ACK, 1), (Event.ACK, 2), (Event.TRADE, "AAPL", 1, 1, 2, 100, 200)], 0, hist)
    # account 1 holds 200 AAPL, nothing open: another 100 reaches 300, 200 more would pass it
    later = rows(
        (3, 1, 0, 1, LIMIT, 100, 200), (4, 1, 0, 1, LIMIT, 100, 100), (5, 1, 0, -1, LIMIT, 100, 500),
        (6, 1, 1, 1, LIMIT, 100, 10), (7, 1, 1, 1, LIMIT, 100, 10),
    )  # fmt: skip
    found = gate.check(later, np.full(5, 100), 0, 10**9)
    assert found is not None
    # 4 passes (300); 5 sells 500 of 200: -300, at the bound; then two are open, so 6 and 7 wait
    assert found.tolist() == [R.POSITION_LIMIT, 0, 0, R.OPEN_ORDERS_LIMIT, R.OPEN_ORDERS_LIMIT]


# -- flags, control, palette -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "value"),
    [
        ("--max-order-qty", "0"),
        ("--max-order-qty", "-5"),
        ("--max-order-qty", "1.5"),
        ("--max-notional", "-1"),
        ("--max-notional", "inf"),
        ("--price-band-pct", "0"),
        ("--price-band-pct", "nan"),
        ("--max-position", "many"),
        ("--max-open-orders", "0"),
        ("--max-orders-per-s", "1e12"),
    ],
)
def test_a_bad_risk_limit_exits_2_with_one_line_naming_it(capsys, flag, value):
    with pytest.raises(SystemExit) as exc:
        config_from_args([flag, value], isatty=False)
    assert exc.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and flag in err, err


def test_the_risk_flags_land_in_the_config():
    config = config_from_args(
        ["--max-order-qty", "700", "--price-band-pct", "0.5", "--seed", "1"], isatty=False
    )
    assert (config.max_order_qty, config.price_band_pct, config.max_position) == (700, 0.5, None)
    assert config.to_dict()["max_order_qty"] == 700


def test_the_kill_switch_command_takes_an_account_of_the_run_or_minus_one():
    snapshot = dataclasses.replace(build_snapshot(), accounts_count=10)
    assert parse_command(b'{"kill_switch": 3}', snapshot) == ("kill_switch", 3)
    assert parse_command(b'{"command": "release", "arg": -1}', snapshot) == ("release", -1)
    for bad in (
        b'{"kill_switch": 10}',
        b'{"kill_switch": -2}',
        b'{"kill_switch": "all"}',
        b'{"release": true}',
    ):
        with pytest.raises(BadRequest):
            parse_command(bad, snapshot)
    yours = dataclasses.replace(snapshot, you=YourAccount(account=10))  # one beyond the flow's
    assert parse_command(b'{"kill_switch": 10}', yours) == ("kill_switch", 10)
    with pytest.raises(BadRequest):
        parse_command(b'{"kill_switch": 11}', yours)


def test_the_palette_offers_the_kill_switch_for_what_was_typed():
    snapshot = build_snapshot()
    hits = {c.text: (c.action, c.args) for c in palette_commands("kill switch 42", snapshot)}
    assert hits["kill switch 42"] == ("engage_kill_switch", (42,))
    hits = {c.text: (c.action, c.args) for c in palette_commands("release all", snapshot)}
    assert hits["release all"] == ("release_kill_switch", (-1,))
    assert "Kill switch" in {c.text for c in palette_commands("", snapshot)}
