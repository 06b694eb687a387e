"""``simulate.py report PATH --plot OUT.png``: throughput and latency over time, drawn.

From the per-second series of one report (or two, drawn over each other): orders placed and
finished per second above, the ack latency of each second (p50 and p99, log scale) below, and
a broker restart as a mark on both. matplotlib is an optional extra (``pip install
matplotlib``): without it ``check_available`` says so in one line, before anything is read.
"""

from __future__ import annotations

from collections.abc import Sequence


class PlotUnavailable(Exception):
    """matplotlib cannot be imported; the message says how to get it."""


def check_available() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise PlotUnavailable(
            "drawing needs matplotlib, which is not installed: pip install matplotlib "
            "(or the simulator's 'plot' extra)"
        ) from None


def rates(series: dict, column: str) -> list[float]:
    """A count column of the series as a rate per second (a row's interval may be partial)."""
    t = series["t"]
    out = []
    for i, count in enumerate(series[column]):
        span = t[i] - (t[i - 1] if i else 0.0)
        out.append(count / span if span > 0 else 0.0)
    return out


def plot(reports: Sequence[dict], names: Sequence[str], out: str) -> None:
    """Draw the reports' series into the PNG file ``out`` (replaced whole)."""
    import matplotlib

    matplotlib.use("Agg")  # a file, never a window
    import matplotlib.pyplot as plt

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 6.5), constrained_layout=True)
    for report, name, style in zip(reports, names, ("-", "--")):
        series = report["series"]
        t = series["t"]
        label = name if len(reports) > 1 else ""
        style += "o" if len(t) < 30 else ""  # a short run's few seconds, seen as points too
        top.plot(t, rates(series, "placed"), style, color="tab:blue", label=f"placed {label}".strip())
        top.plot(t, rates(series, "finished"), style, color="tab:green", label=f"finished {label}".strip())
        top.plot(t, rates(series, "fills"), style, color="tab:orange", label=f"fills {label}".strip())
        bottom.plot(t, [max(v, 1) for v in series["ack_p50_us"]], style, color="tab:blue",
                    label=f"ack p50 {label}".strip())  # fmt: skip
        bottom.plot(t, [max(v, 1) for v in series["ack_p99_us"]], style, color="tab:red",
                    label=f"ack p99 {label}".strip())  # fmt: skip
        for when, restarts in zip(t, series["restarts"]):
            if restarts:
                for axes in (top, bottom):
                    axes.axvline(when, color="grey", linestyle=":", linewidth=1)
    config = reports[0]["config"]
    top.set_title(
        f"seed {config['seed']}, {config['brokers']} brokers, {len(config['symbols'])} symbols"
        + (" (dotted: a broker restart)" if any(sum(r["series"]["restarts"]) for r in reports) else "")
        + ("; A solid, B dashed" if len(reports) > 1 else "")
    )
    top.set_ylabel("per second")
    top.legend(loc="upper right", fontsize="small")
    bottom.set_yscale("log")
    bottom.set_ylabel("ack latency of the second (us)")
    bottom.set_xlabel("seconds since the first order")
    bottom.legend(loc="upper right", fontsize="small")
    from simulator.report import write_file_whole

    write_file_whole(out, lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
