"""What a run declares on RabbitMQ, and the offer that hands a broker its shard.

    bank ---- ORDERS/WATCH/STOP (message_id = seq) ---> sim.<run>.shard.<k>   (one per shard)
    bank <--- EVENTS/HEARTBEAT/LOG/FINAL/HELLO -------- sim.<run>.results     (all brokers)
    bank ---- TAKEOVER -------------------------------> the broker's own reply queue
    bank holds sim.<run>.bank, an auto-delete queue it consumes: the server deletes it when the
         bank's connection goes (kill -9 included); brokers watch it (a passive declare a
         second, on one channel) to know the bank is alive
    sim.offers: one offer per shard of a run with --external-brokers, shared by every run on
         the vhost (``simulate.py broker`` waits there); brokers the bank spawns itself are
         handed their offer directly

Every queue name carries the run id, so two runs on one server never mix. Queues are durable
(RabbitMQ deprecates transient shared queues) and expire ``EXPIRES_S`` after they were last
used (no consumer, not declared again), so the queues of a bank that died go away by
themselves; the bank declares its queues again every few seconds while it runs, and deletes
them when it stops. Messages are transient: a run does not outlive its server (stopping the
server mid-run stops the run; see amqp_pool).

Why offers, not single-active-consumer queues, to hand out shards: a broker must hold exactly
one shard, and the first free one. Offers are a shared queue consumed with prefetch 1: a broker
takes one offer and acknowledges it only when it is done with the shard. When it dies, the
server puts its offer back and hands it to the next broker waiting (a standby), which then
takes the shard queue over. Single-active-consumer would give every broker that consumes all
shard queues the shards nobody else holds (several at once), and AMQP 0-9-1 never tells a
consumer it became active until a message arrives. The shard queue itself is consumed
exclusively, so even a mistake could not give one shard two brokers; order holds (one consumer
per queue; unacknowledged messages are requeued at their place).
"""

from __future__ import annotations

import os
import pickle
import secrets
import time
from dataclasses import dataclass

from simulator import messages as msg

EXPIRES_S = 30
QUEUE_ARGS = {"x-expires": EXPIRES_S * 1000}
SHARED_OFFERS = "sim.offers"
REDECLARE_EVERY_S = 5.0


def new_run_id() -> str:
    """Unique enough among the runs one server sees: the time and 6 random hex digits."""
    return f"{time.strftime('%Y%m%dT%H%M%S')}-{os.getpid()}-{secrets.token_hex(3)}"


def shard_queue(run_id: str, index: int) -> str:
    return f"sim.{run_id}.shard.{index}"


def results_queue(run_id: str) -> str:
    return f"sim.{run_id}.results"


def bank_queue(run_id: str) -> str:
    return f"sim.{run_id}.bank"


@dataclass(frozen=True, slots=True)
class Offer:
    """One shard of one run, as a broker takes it: everything it needs to serve it."""

    run_id: str
    spec: msg.BrokerSpec
    prefetch: int  # the shard's credit and a few: every unanswered batch is delivered at once

    @property
    def shard_queue(self) -> str:
        return shard_queue(self.run_id, self.spec.index)

    @property
    def results_queue(self) -> str:
        return results_queue(self.run_id)

    @property
    def bank_queue(self) -> str:
        return bank_queue(self.run_id)


def encode_offer(offer: Offer) -> bytes:
    return pickle.dumps(offer, pickle.HIGHEST_PROTOCOL)


def decode_offer(body: bytes) -> Offer:
    """The Offer in ``body``, or BadMessage."""
    try:
        offer = msg.loads(body)
    except Exception as exc:  # anything at all on the offers queue must not crash a broker
        raise msg.BadMessage(f"undecodable offer: {type(exc).__name__}: {exc}") from None
    if not isinstance(offer, Offer):
        raise msg.BadMessage(f"not an offer: {type(offer).__name__}")
    return offer
