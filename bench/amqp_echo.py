"""Echo brokers over AMQP: the simulator's AMQP broker (queues, HELLO/TAKEOVER, credit, acks)
with a matching side that only acknowledges, each order its ACK record made as a broker makes
events (ints out of the batch, a flat list, struct.pack). The AMQP echo ceiling of bench/amqp.py."""

from __future__ import annotations

from simulator.amqp_broker import spawned_broker_main
from simulator.amqp_topology import Offer
from simulator.broker import Broker
from simulator.wire import ORDER_WIDTH

_ACK = 1


class EchoBroker(Broker):
    def handle_orders(self, flat: list, out: list) -> None:
        self.orders += len(flat) // ORDER_WIDTH
        for oid in flat[0::ORDER_WIDTH]:
            out += (_ACK, oid, 0, 0, 0, 0, 0)


def echo_amqp_main(offer: Offer, url: str) -> None:
    spawned_broker_main(offer, url, EchoBroker)
