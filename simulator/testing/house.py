"""The shape of the code, read from its imports: the graph, its cycles, and the pure model's walls.

``python -m simulator.testing.house`` prints which module of ``simulator`` and ``tui`` imports
which (the lowest first), and any import cycle; tests/unit/test_house.py holds the rules:
no cycle, the pure model imports no process, bus, UI or clock code, only ``processes`` imports
multiprocess, and no module is over its line limit. Imports are read from the source (``ast``),
so nothing is run; an import inside a function counts like one at the top, and one under
``if TYPE_CHECKING:`` does not (it is for the type checker only).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("simulator", "tui")

# the pure model: events in, state out; clocks and random generators are passed in
PURE = frozenset(
    f"simulator.{name}"
    for name in (
        "orders", "wire", "book", "flow", "pending_cancels", "ledger", "order_window", "id_index",
        "batch_check", "reconciliation", "fills_digest", "routing", "schedule", "positions", "symbol_stats",
        "rejects", "series", "stats", "risk", "risk_exposure", "outside_ids", "outside_orders",
        "restart_state", "own_order", "order_types", "stp_book", "ledger_types", "flow_types", "order_checks",
        "agents", "agent_records", "ledger_slow", "resting", "slot_arrays", "rows",
    )
)  # fmt: skip
# what the pure model must not import: processes, buses, UIs, clocks, global randomness
IMPURE = ("multiprocess", "cherrypy", "textual", "psutil", "time", "random", "threading",
          "signal", "select", "socket", "subprocess", "sqlite3")  # fmt: skip
LINE_LIMIT, BOOK_LIMIT = 450, 600


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_files() -> dict[str, Path]:
    """Every module of the packages (the test harness included), by dotted name."""
    return {
        module_name(path): path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
    }


def imports_of(path: Path) -> set[str]:
    """Absolute names this file imports, outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(), str(path))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(child) for n in node.body for child in ast.walk(n))
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def graph() -> dict[str, set[str]]:
    """module -> the modules of the packages it imports (a package counts as its __init__)."""
    files = source_files()
    # ``from simulator import wire`` names the package too; its __init__ is a docstring only
    tops = set(PACKAGES)
    return {
        name: {m for m in imports_of(path) if m in files and m != name and m not in tops}
        for name, path in files.items()
    }


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def levels(edges: dict[str, set[str]]) -> dict[str, int]:
    """0 for a module importing none of the packages, else 1 + the highest it imports."""
    memo: dict[str, int] = {}

    def level(v: str, seen: frozenset[str]) -> int:
        if v not in memo:
            below = [level(w, seen | {v}) for w in edges[v] if w not in seen]
            memo[v] = 1 + max(below) if below else 0
        return memo[v]

    return {v: level(v, frozenset()) for v in edges}


def main() -> int:
    edges = graph()
    files = source_files()
    by_level = levels(edges)
    for name in sorted(edges, key=lambda n: (by_level[n], n)):
        lines = len(files[name].read_text().splitlines())
        imported = ", ".join(sorted(m.removeprefix("simulator.") for m in edges[name])) or "-"
        print(f"{by_level[name]:>2}  {name:<32} {lines:>4}  <- {imported}")
    found = cycles(edges)
    print(f"import cycles: {len(found)}" + "".join(f"\n  {' -> '.join(c)}" for c in found))
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
