"""The channel to a broker: credit, full, gone, close -- over real pipes."""

from __future__ import annotations

import pytest

from simulator import processes
from simulator.channel import ChannelFull, ChannelGone, PipeChannel


@pytest.fixture
def ends():
    """A PipeChannel and the broker's ends of its two pipes (inbox reader, results writer)."""
    inbox_reader, inbox, capacity = processes.one_way_pipe()
    results, results_writer, _ = processes.one_way_pipe()
    channel = PipeChannel(inbox, results, max_unread=3, capacity=capacity)
    yield channel, inbox_reader, results_writer
    channel.close()
    inbox_reader.close()
    results_writer.close()


def test_a_channel_holds_at_most_max_unread_messages_and_raises_full_beyond(ends):
    channel, broker_inbox, _ = ends
    for i in range(3):
        channel.send(b"O%d" % i)
    assert channel.unread == 3
    with pytest.raises(ChannelFull):
        channel.send(b"one too many")
    assert channel.unread == 3  # nothing was sent
    assert [broker_inbox.recv_bytes() for _ in range(3)] == [b"O0", b"O1", b"O2"]
    assert not broker_inbox.poll(0)


def test_credit_comes_back_only_when_the_broker_says_it_has_read(ends):
    channel, broker_inbox, _ = ends
    for _ in range(3):
        channel.send(b"x")
    broker_inbox.recv_bytes()  # read, but not said yet: still no room
    with pytest.raises(ChannelFull):
        channel.send(b"x")
    channel.consumed(1)
    channel.send(b"x")
    assert channel.unread == 3
    channel.consumed(1)  # an old count (a reordered reply) gives nothing back twice
    with pytest.raises(ChannelFull):
        channel.send(b"x")


def test_unread_bytes_never_exceed_what_the_pipe_holds_so_a_send_never_blocks(ends):
    channel, broker_inbox, _ = ends
    big = bytes(channel.capacity - 10)
    channel.send(big)
    with pytest.raises(ChannelFull):
        channel.send(bytes(100))  # would not fit beside the unread one: the write would block
    assert broker_inbox.recv_bytes() == big
    channel.consumed(1)
    channel.send(bytes(100))


def test_the_first_message_of_a_restarted_broker_goes_whatever_the_credit(ends):
    channel, broker_inbox, _ = ends
    for _ in range(3):
        channel.send(b"x")
    channel.send(b"RESTORE", credit=False)
    assert channel.unread == 4
    assert [broker_inbox.recv_bytes() for _ in range(4)][-1] == b"RESTORE"


def test_receive_returns_what_waits_in_order_and_at_most_the_budget(ends):
    channel, _, broker_results = ends
    assert channel.receive(10) == []
    for i in range(5):
        broker_results.send_bytes(b"E%d" % i)
    assert channel.receive(3) == [b"E0", b"E1", b"E2"]
    assert channel.receive(3) == [b"E3", b"E4"]


def test_a_broker_gone_is_gone_after_what_it_sent_was_received(ends):
    channel, broker_inbox, broker_results = ends
    broker_results.send_bytes(b"last words")
    broker_results.close()
    broker_inbox.close()
    assert channel.receive(10) == [b"last words"]
    with pytest.raises(ChannelGone):
        channel.receive(10)
    with pytest.raises(ChannelGone):
        channel.send(b"O")  # EPIPE: nobody reads the inbox any more


def test_a_closed_channel_refuses_everything_and_closes_once(ends):
    channel, _, _ = ends
    channel.close()
    channel.close()
    with pytest.raises(ChannelGone):
        channel.send(b"O")
    with pytest.raises(ChannelGone):
        channel.receive(1)


def _exit_at_once(inbox, results) -> None:
    processes.enter_child()
    results.send_bytes(b"bye")


@pytest.mark.timeout(60)
def test_the_death_of_a_real_broker_process_reads_as_gone():
    inbox_reader, inbox, capacity = processes.one_way_pipe()
    results, results_writer, _ = processes.one_way_pipe()
    process = processes.start_process(
        _exit_at_once, (inbox_reader, results_writer), "broker-x", hand_over=(inbox_reader, results_writer)
    )
    channel = PipeChannel(inbox, results, max_unread=3, capacity=capacity)
    try:
        assert processes.end_process(process, "broker-x", grace_s=30) == 0
        assert channel.receive(10) == [b"bye"]
        with pytest.raises(ChannelGone):
            channel.receive(10)
        with pytest.raises(ChannelGone):
            channel.send(b"O")
    finally:
        channel.close()
        if process.is_alive():
            process.kill()
            process.join(5)
    assert not process.is_alive()


def test_a_message_larger_than_the_pipe_is_refused_not_a_write_that_blocks(ends):
    channel, _, _ = ends
    with pytest.raises(ValueError):
        channel.send(bytes(channel.max_bytes + 1))
    assert channel.unread == 0
    channel.send(bytes(channel.max_bytes))  # the largest that fits an empty pipe goes


def test_the_bank_splits_its_batches_to_fit_a_small_channel():
    import numpy as np

    from simulator import messages as msg
    from simulator import wire
    from simulator.bank import Bank, StopRequest
    from simulator.bus import new_bus
    from simulator.config import SimConfig
    from simulator.routing import Routing

    class SmallChannel:  # a pipe of one page, as past a user's pipe budget
        max_bytes = 4096 - 4
        unread = 0

        def __init__(self) -> None:
            self.sent: list[bytes] = []

        def send(self, payload: bytes, *, credit: bool = True) -> None:
            assert len(payload) <= self.max_bytes
            self.sent.append(payload)

    class OneBroker:
        failed = None
        bad_messages = 0
        brokers: list = []

        def __init__(self) -> None:
            self.ch = SmallChannel()

        def channel(self, index: int) -> SmallChannel:
            return self.ch

        def poll(self, timeout: float) -> int:
            return 0

    config = SimConfig(brokers=1, symbols=("AAPL",), batch=256, headless=True)
    brokers = OneBroker()
    bank = Bank(new_bus("test"), config, StopRequest(), brokers, Routing(config.symbols, 1))
    orders = np.arange(1000 * wire.ORDER_WIDTH, dtype=np.int64).reshape(-1, wire.ORDER_WIDTH)
    bank.pending[0] = orders
    assert bank._flush()
    got = np.concatenate([msg.decode(p)[1] for p in brokers.ch.sent]).reshape(-1, wire.ORDER_WIDTH)
    assert (got == orders).all()  # every order, in order
    assert len(brokers.ch.sent) == -(-1000 // ((4092 - msg.RECORDS_OFFSET) // wire.ORDER_SIZE))
