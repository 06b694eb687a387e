"""The AMQP transport's parts that need no server: the URL and its flags, the shard channel's
credit, the broker inbox's skipping of answered messages, and how the dashboard says where."""

from __future__ import annotations

import dataclasses
import queue

import pytest

from simulator import amqp_url
from simulator.amqp_broker import ShardInbox, ShardResults
from simulator.amqp_channel import AmqpChannel
from simulator.amqp_link import Delivery
from simulator.amqp_topology import Offer, decode_offer, encode_offer
from simulator.channel import ChannelFull, ChannelGone
from simulator.config import config_from_args
from simulator.messages import LOG, BadMessage, BrokerSpec
from simulator.stats import ProcessRow
from tui.format import HOST_COLUMNS, PROCESS_COLUMNS, header_fields, process_cells


class FakeLink:
    """What the channel and the inbox use of an AmqpLink, recorded."""

    def __init__(self) -> None:
        self.failed: str | None = None
        self.published: list[tuple[str, bytes, dict]] = []
        self.acked: list[int] = []
        self.deliveries: queue.SimpleQueue = queue.SimpleQueue()

    def publish(self, queue_name: str, body: bytes, **props: object) -> None:
        self.published.append((queue_name, body, props))

    def ack(self, delivery: Delivery) -> None:
        self.acked.append(delivery.tag)


def test_the_password_is_masked_and_the_rest_kept() -> None:
    assert amqp_url.masked("amqp://bob:s3cret@mq.example:5671/%2F") == "amqp://bob:***@mq.example:5671/%2F"
    assert amqp_url.masked("amqp://mq.example/") == "amqp://mq.example/"


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--transport", "amqp"], "needs --amqp-url URL or $SIM_AMQP_URL"),
        (["--amqp-url", "amqp://a:b@c/"], "--amqp-url: only with --transport amqp"),
        (["--external-brokers"], "--external-brokers: only with --transport amqp"),
        (["--transport", "amqp", "--amqp-url", "ftp://x/"], "not an amqp:// or amqps:// URL"),
        (["--transport", "amqp", "--amqp-credit", "0", "--amqp-url", "amqp://x/"], "--amqp-credit"),
    ],
)
def test_amqp_flags_that_cannot_work_are_usage_errors(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIM_AMQP_URL", raising=False)
    with pytest.raises(SystemExit) as exc:
        config_from_args(argv, isatty=False)
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err, err


def test_the_config_shows_the_url_masked() -> None:
    from simulator.config import SimConfig

    d = SimConfig(transport="amqp", amqp_url="amqp://u:hunter2@h/v").to_dict()
    assert d["amqp_url"] == "amqp://u:***@h/v"


def test_the_shard_channel_holds_at_most_its_credit_unanswered() -> None:
    link = FakeLink()
    ch = AmqpChannel(link, "q", max_unread=3)  # type: ignore[arg-type]
    for _ in range(3):
        ch.send(b"O")
    with pytest.raises(ChannelFull):
        ch.send(b"O")
    assert [p[2]["message_id"] for p in link.published] == ["1", "2", "3"]
    ch.consumed(2)
    assert ch.unread == 1
    ch.send(b"O")
    ch.send(b"O")
    with pytest.raises(ChannelFull):
        ch.send(b"O")
    ch.send(b"S", credit=False)  # what must go whatever the credit
    link.failed = "the connection to RabbitMQ was lost"
    with pytest.raises(ChannelGone):
        ch.send(b"O")


def _delivery(seq: int, queue_name: str = "sim.r.shard.0") -> Delivery:
    return Delivery(queue_name, seq, True, {}, None, str(seq), b"O" + bytes(7), None)


def test_a_new_broker_skips_what_its_predecessor_answered_and_acks_it_with_its_first_result() -> None:
    link = FakeLink()
    offer = Offer("r", BrokerSpec(0, "broker-1", ("AAPL",)), 10)
    early = [_delivery(4), _delivery(5)]  # redelivered: answered before the takeover
    for seq in (6, 7):
        link.deliveries.put(_delivery(seq))
    inbox = ShardInbox(link, offer, answered=5, early=early)  # type: ignore[arg-type]
    results = ShardResults(link, offer, "me", inbox)  # type: ignore[arg-type]
    assert inbox.skipped == 2
    results.send_bytes(LOG + b"x")  # a log line answers nothing: acknowledges nothing
    assert link.acked == []
    results.send_bytes(b"H")
    assert link.acked == [5]  # the skipped ones are done with
    got = []
    while inbox.poll(0.01):
        got.append(inbox.recv_bytes())
    assert len(got) == 2 and inbox.handled is not None and inbox.handled.tag == 7
    results.send_bytes(b"E")
    assert link.acked == [5, 7]
    assert all(p[2]["app_id"] == "me" for p in link.published)


def test_an_offer_round_trips_and_garbage_is_a_bad_message() -> None:
    offer = Offer("r", BrokerSpec(1, "broker-2", ("MSFT",)), 72)
    assert decode_offer(encode_offer(offer)) == offer
    with pytest.raises(BadMessage):
        decode_offer(b"not a pickle")


def test_the_dashboard_says_where_each_broker_runs_over_amqp() -> None:
    row = ProcessRow(name="broker-1", pid=42, state="RUNNING", host="mq-b")
    assert "mq-b" not in process_cells(row) and len(process_cells(row)) == len(PROCESS_COLUMNS)
    cells = process_cells(row, host=True)
    titles = [c.title for c in HOST_COLUMNS]
    assert len(cells) == len(titles) and cells[titles.index("host")] == "mq-b"


def test_the_header_names_the_transport_unless_it_is_the_pipes() -> None:
    from simulator.stats import OrderCounts, RunState, Snapshot

    snap = Snapshot(
        RunState.RUNNING, 1.0, 7, 0.0, OrderCounts(), 0.0, 0.0, 0, 0, {}, (), (), (), None, None, (), ()
    )
    assert ("over", "AMQP") not in header_fields(snap)
    assert ("over", "AMQP") in header_fields(dataclasses.replace(snap, transport="amqp"))


def test_a_message_that_would_rebuild_anything_but_our_records_is_refused() -> None:
    """Bodies are pickles, and some come from a queue on another machine: one naming any other
    callable (here os.system) is a bad message, never a call."""
    import os
    import pickle

    from simulator import messages

    class Sneaky:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    with pytest.raises(BadMessage, match="not a record of ours"):
        messages.decode(messages.HEARTBEAT + pickle.dumps(Sneaky()))
    with pytest.raises(BadMessage):
        decode_offer(pickle.dumps(Sneaky()))
    beat = messages.Heartbeat(0, 1, 2, 3, 4, 5, ("AAPL", ((1, 2),), (), None))
    assert messages.decode(messages.encode(messages.HEARTBEAT, beat)) == (messages.HEARTBEAT, beat)


def test_orders_open_when_no_broker_reported_are_all_lost_not_a_crash() -> None:
    """A run whose brokers all went without a final report (the server stopped): the ledger
    reconciles every open order as lost, by id."""
    from simulator.flow import OrderFlow
    from simulator.ledger import Ledger

    symbols = ("AAPL", "MSFT")
    ledger = Ledger(symbols, 10)
    orders = OrderFlow(symbols, seed=1, accounts=10).generate(50)
    ledger.place(orders, 0, 1000)
    rec = ledger.reconcile({})
    assert rec.lost + rec.cancels_lost == 50 and len(rec.lost_ids) == rec.lost
