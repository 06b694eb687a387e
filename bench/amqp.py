"""The AMQP rows of the benchmark: echo ceiling and end to end, each against the pipes.

    python bench/amqp.py --amqp-url amqp://guest:guest@127.0.0.1:5672/%2F [--reps 3]
    python bench/run.py --amqp URL      # the same rows after the others

Measured in one run, one thing after another, medians of ``--reps`` with [min - max]:

* AMQP echo ceiling: ``AmqpBrokers`` (the bank's side of --transport amqp: shard queues, credit,
  results queue) driven as the bank drives it, to 2 spawned brokers whose matching only
  acknowledges (amqp_echo.py); beside it the pipe echo ceiling (bench/echo.py), same batches;
* the simulator at --rate 0 with 2 brokers, --transport amqp and --transport pipe.

Ratios are of medians taken in the same run (the machine is shared: absolute figures drift).
The RabbitMQ server runs on the same 2 cores as everything else.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))

from cherrypy.process import wspbus  # noqa: E402

from simulator import messages as msg  # noqa: E402
from simulator import wire  # noqa: E402
from simulator.amqp_link import AmqpLink  # noqa: E402
from simulator.amqp_pool import AmqpBrokers  # noqa: E402
from simulator.config import SimConfig  # noqa: E402
from simulator.flow import OrderFlow  # noqa: E402


def amqp_echo_orders_per_s(url: str, brokers: int = 2, batch: int = 256, seconds: float = 5.0) -> float:
    """ACKs/s through AmqpBrokers to echo brokers (see the module docstring)."""
    from amqp_echo import echo_amqp_main
    from echo import _offer

    acked = [0]

    def on_message(_index, kind, body):
        if kind == msg.EVENTS:
            acked[0] += len(body[2]) // wire.EVENT_WIDTH

    bus = wspbus.Bus()
    link = AmqpLink(bus, url, name="bench")
    specs = [msg.BrokerSpec(i, f"echo-{i + 1}", ()) for i in range(brokers)]
    pool = AmqpBrokers(
        bus,
        link,
        specs,
        url=url,
        credit=SimConfig().amqp_credit,
        external=False,
        on_message=on_message,
        book_states=lambda _index: {},
        target=echo_amqp_main,
    )
    link.start()
    try:
        pool.start()
        if pool.failed:
            raise RuntimeError(pool.failed)
        flow = OrderFlow(("AAPL", "MSFT", "NVDA", "TSLA"), seed=1)
        payloads = [msg.encode(msg.ORDERS, flow.generate(batch).tobytes()) for _ in range(64)]
        i = 0
        t0 = time.perf_counter()
        deadline = t0 + seconds
        while time.perf_counter() < deadline:
            progressed = False
            for k in range(brokers):
                if _offer(pool.channel(k), payloads[i % len(payloads)]):
                    i += 1
                    progressed = True
            pool.poll(0.0 if progressed else 0.001)
        rate = acked[0] / (time.perf_counter() - t0)
        for k in range(brokers):
            while not _offer(pool.channel(k), msg.STOP):
                pool.poll(0.01)
        end = time.monotonic() + 30
        while any(b.final is None for b in pool.brokers) and time.monotonic() < end:
            pool.poll(0.05)
        return rate
    finally:
        pool.stop()
        link.stop()


def med(values: list[float]) -> str:
    return f"{statistics.median(values):>12,.0f}  [{min(values):,.0f} - {max(values):,.0f}]"


def measure(url: str, reps: int, duration: float = 8.0) -> dict[str, list[float]]:
    from echo import echo_orders_per_s
    from run import end_to_end, simulate

    rows: dict[str, list[float]] = {"amqp_echo": [], "pipe_echo": [], "amqp_sim": [], "pipe_sim": []}
    for rep in range(reps):
        flags = ("--rate", "0", "--brokers", "2", "--duration", str(duration), "--seed", str(rep + 1))
        rows["amqp_echo"].append(amqp_echo_orders_per_s(url))
        rows["pipe_echo"].append(echo_orders_per_s(brokers=2, seconds=5.0))
        amqp = simulate(*flags, "--transport", "amqp", "--amqp-url", url)
        pipe = simulate(*flags)
        for name, report in (("amqp", amqp), ("pipe", pipe)):
            if report["_exit"] != 0:
                raise RuntimeError(f"--transport {name} run failed: {report['stop_reason']}")
        rows["amqp_sim"].append(end_to_end(amqp))
        rows["pipe_sim"].append(end_to_end(pipe))
        print(f"amqp rep {rep + 1}/{reps} done", flush=True)
    return rows


def print_rows(rows: dict[str, list[float]]) -> None:
    m = {k: statistics.median(v) for k, v in rows.items()}
    print(f"{'AMQP echo ceiling, 2 brokers (orders/s)':<52} {med(rows['amqp_echo'])}")
    print(f"{'pipe echo ceiling, 2 brokers (orders/s)':<52} {med(rows['pipe_echo'])}")
    print(f"{'simulator --rate 0, 2 brokers, amqp (orders/s)':<52} {med(rows['amqp_sim'])}")
    print(f"{'simulator --rate 0, 2 brokers, pipe (orders/s)':<52} {med(rows['pipe_sim'])}")
    print(f"{'AMQP echo / pipe echo':<52} {m['amqp_echo'] / m['pipe_echo']:>12.2f}")
    print(f"{'simulator amqp / simulator pipe (target >= 0.3)':<52} {m['amqp_sim'] / m['pipe_sim']:>12.2f}")
    print(f"{'simulator amqp / AMQP echo (target >= 0.5)':<52} {m['amqp_sim'] / m['amqp_echo']:>12.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--amqp-url", default=os.environ.get("SIM_AMQP_URL"), help="default: $SIM_AMQP_URL")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--duration", type=float, default=8.0, help="seconds per simulator run")
    args = ap.parse_args()
    if not args.amqp_url:
        ap.error("give --amqp-url URL or $SIM_AMQP_URL")
    print_rows(measure(args.amqp_url, args.reps, args.duration))
    return 0


if __name__ == "__main__":
    sys.exit(main())
