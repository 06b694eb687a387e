"""The house rules, read from the code's imports: no cycle, a pure model, one plumbing module."""

from __future__ import annotations

import pytest

from simulator.testing import house

pytestmark = pytest.mark.timeout(60)

EDGES = house.graph()
FILES = house.source_files()


def test_no_module_imports_one_that_imports_it_back():
    assert house.cycles(EDGES) == []


def test_the_cycle_finder_finds_a_cycle():
    assert house.cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(house.PURE))
def test_the_pure_model_imports_no_process_bus_ui_or_clock(module):
    imported = house.imports_of(FILES[module])
    impure = sorted(m for m in imported if m.split(".")[0] in house.IMPURE)
    assert impure == [], f"{module} imports {impure}"
    outside = sorted(m for m in EDGES[module] if m not in house.PURE)
    assert outside == [], f"{module} imports {outside}, outside the pure model"


def test_only_the_plumbing_module_imports_multiprocess():
    users = sorted(
        name
        for name, path in FILES.items()
        if any(m.split(".")[0] == "multiprocess" for m in house.imports_of(path))
    )
    assert users == ["simulator.processes"]


def test_no_module_is_over_its_line_limit():
    too_long = {}
    for name, path in FILES.items():
        limit = house.BOOK_LIMIT if name == "simulator.book" else house.LINE_LIMIT
        lines = len(path.read_text().splitlines())
        if lines > limit:
            too_long[name] = lines
    assert too_long == {}
