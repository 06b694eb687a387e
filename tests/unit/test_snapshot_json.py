"""Snapshots to JSON and back: the same Snapshot again, exactly; a wrong dict says which field."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.snapshot_json import (
    VERSION,
    SnapshotJsonError,
    snapshot_from_dict,
    snapshot_from_json,
    snapshot_to_dict,
    snapshot_to_json,
)
from simulator.stats import BookView, OrderCounts, ProcessRow, RunState, Snapshot, TapeEntry
from simulator.testing.dashboard import build_snapshot


def through_json(snapshot: Snapshot) -> Snapshot:
    return snapshot_from_json(snapshot_to_json(snapshot))


def test_a_mid_run_snapshot_comes_back_equal_through_json_text():
    snapshot = build_snapshot()
    assert through_json(snapshot) == snapshot


def test_the_dict_is_plain_json_with_the_version_first():
    d = snapshot_to_dict(build_snapshot())
    assert next(iter(d)) == "version" and d["version"] == VERSION
    assert json.loads(json.dumps(d)) == d  # nothing but JSON types
    assert d["state"] == "RUNNING"
    assert d["orders"]["placed"] == 1_234_567
    assert d["book"]["bids"][0] == [41250, 300, 1]
    assert {"name", "pid", "state", "inbox_depth", "heartbeat_age_s"} <= set(d["processes"][0])


def test_empty_and_null_parts_come_back_as_they_were():
    snapshot = build_snapshot(
        state=RunState.STARTING,
        book=None,
        selected_symbol=None,
        tape=(),
        processes=(ProcessRow("bank", None, "STARTING"),),
        stop_reason=None,
        reject_reasons={},
    )
    back = through_json(snapshot)
    assert back == snapshot
    assert back.book is None and back.processes[0].pid is None and back.tape == ()


def test_floats_keep_every_bit():
    awkward = (0.1 + 0.2, 1e-300, 123456789.123456789, 5e-324, 2.0**60 + 0.5)
    snapshot = build_snapshot(throughput_history=awkward, elapsed_s=1 / 3, orders_per_s=math.pi)
    back = through_json(snapshot)
    assert back.throughput_history == awkward
    assert back.elapsed_s.hex() == (1 / 3).hex()


def test_a_reader_refuses_another_version():
    d = snapshot_to_dict(build_snapshot())
    d["version"] = VERSION + 1
    with pytest.raises(SnapshotJsonError, match="version"):
        snapshot_from_dict(d)
    del d["version"]
    with pytest.raises(SnapshotJsonError, match="version"):
        snapshot_from_dict(d)


@pytest.mark.parametrize(
    ("change", "path"),
    [
        (lambda d: d["orders"].update(placed="12"), "orders.placed: expected int"),
        (lambda d: d["orders"].update(placed=True), "orders.placed: expected int"),
        (lambda d: d.update(state="ASLEEP"), "state: expected one of"),
        (lambda d: d["processes"][1].update(name=None), r"processes\[1\].name: expected str"),
        (lambda d: d["book"]["bids"][2].pop(), r"book.bids\[2\]: expected 3 items"),
        (lambda d: d.update(ack_latency_us={"p50": 1.5}), "ack_latency_us.p50: expected int"),
        (lambda d: d.pop("seed"), "seed: missing"),
        (lambda d: d.update(tape={}), "tape: expected an array"),
    ],
)
def test_a_wrong_field_is_named_by_its_path(change, path):
    d = snapshot_to_dict(build_snapshot())
    change(d)
    with pytest.raises(SnapshotJsonError, match=path):
        snapshot_from_dict(d)


def test_unknown_keys_are_ignored_and_missing_ones_take_their_defaults():
    d = snapshot_to_dict(build_snapshot())
    d["from_a_newer_writer"] = [1, 2, 3]
    del d["stop_reason"], d["reject_reasons"]
    back = snapshot_from_dict(d)
    assert back.stop_reason is None and back.reject_reasons == {}


def test_an_int_is_a_fine_float_but_not_the_other_way():
    d = snapshot_to_dict(build_snapshot())
    d["rate"] = 5000
    assert snapshot_from_dict(d).rate == 5000.0 and isinstance(snapshot_from_dict(d).rate, float)
    d["seed"] = 3.0
    with pytest.raises(SnapshotJsonError, match="seed: expected int"):
        snapshot_from_dict(d)


def test_not_json_and_not_an_object_are_refused():
    with pytest.raises(SnapshotJsonError, match="not JSON"):
        snapshot_from_json(b"{")
    with pytest.raises(SnapshotJsonError, match="JSON object"):
        snapshot_from_json(b"[1]")


# -- any Snapshot -------------------------------------------------------------------------------

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
counts = st.integers(0, 2**62)
floats = st.floats(allow_nan=False, allow_infinity=False)
levels = st.lists(st.tuples(counts, counts, counts), max_size=4).map(tuple)
rows = st.builds(
    ProcessRow,
    name=names,
    pid=st.none() | st.integers(1, 2**22),
    state=st.sampled_from(["STARTING", "RUNNING", "HUNG", "DEAD", "EXITED"]),
    symbols=st.lists(names, max_size=3).map(tuple),
    inbox_depth=counts,
    orders=counts,
    orders_per_s=floats,
    fills=counts,
    cpu_percent=floats,
    rss_bytes=counts,
    heartbeat_age_s=floats,
    restarts=counts,
    exit_code=st.none() | st.integers(-64, 255),
)
tape = st.builds(
    TapeEntry,
    kind=st.sampled_from(["order", "fill"]),
    symbol=names,
    side=st.sampled_from([1, -1]),
    qty=counts,
    price=counts,
    account=st.integers(-1, 10_000),
    oid=counts,
)
summary = st.dictionaries(st.sampled_from(["count", "p50", "p99", "p999", "max"]), counts)


@given(
    state=st.sampled_from(list(RunState)),
    elapsed=floats,
    rate=floats,
    orders=st.builds(OrderCounts, *([counts] * 8)),
    history=st.lists(floats, max_size=5).map(tuple),
    processes=st.lists(rows, max_size=4).map(tuple),
    book=st.none() | st.builds(BookView, names, levels, levels, st.none() | counts),
    entries=st.lists(tape, max_size=4).map(tuple),
    lines=st.lists(names, max_size=4).map(tuple),
    latency=summary,
    reasons=st.dictionaries(names, counts, max_size=3),
    stop=st.none() | names,
)
def test_any_snapshot_comes_back_equal(
    state, elapsed, rate, orders, history, processes, book, entries, lines, latency, reasons, stop
):
    snapshot = replace(
        build_snapshot(),
        state=state,
        elapsed_s=elapsed,
        rate=rate,
        orders=orders,
        throughput_history=history,
        processes=processes,
        book=book,
        tape=entries,
        log_lines=lines,
        ack_latency_us=latency,
        reject_reasons=reasons,
        stop_reason=stop,
    )
    assert through_json(snapshot) == snapshot
