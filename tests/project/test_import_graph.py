"""The layers' import rules (docs/ARCHITECTURE.md), read from the source: no import cycle between modules, and no
import that runs back up a layer. (An import inside a function needs a reason: ruff's PLC0415 asks for it.)"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("live_heatmap", "liquidation_hunter", "strategies")



def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(path: Path, known: dict[str, Path]) -> Iterator[str]:
    """The project's modules ``path`` imports, wherever the import stands (top or function body)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        yield from (name for name in names if name in known)


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: {t for t in imports(path, known) if t != name} for name, path in known.items()}


def wrong_way(source: str, target: str) -> bool:
    def under(module: str, *prefixes: str) -> bool:
        return any(module == p or module.startswith(p + ".") for p in prefixes)

    lh = "liquidation_hunter"
    return ((under(source, "live_heatmap") and not under(target, "live_heatmap"))
            or (under(source, f"{lh}.trading") and under(target, f"{lh}.bot", f"{lh}.api", f"{lh}.backtest"))
            or (under(source, f"{lh}.api") and under(target, f"{lh}.bot", f"{lh}.backtest"))
            or (under(source, f"{lh}.alerts") and under(target, f"{lh}.bot", f"{lh}.api", f"{lh}.backtest",
                                                         f"{lh}.cli"))
            or (under(source, f"{lh}.config") and under(target, "strategies"))
            or (under(source, "strategies") and under(target, lh)
                and not (target == lh or under(target, f"{lh}.signals"))))


def cycles(edges: dict[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan), ignoring a package's own ``__init__``
    importing its modules (a package re-exporting its parts is not a cycle of design)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def follows(source: str) -> set[str]:
        return {t for t in edges[source] if not t.startswith(source + ".")}

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in follows(v):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle() -> None:
    assert cycles(graph()) == set()


def test_no_import_runs_back_up_a_layer() -> None:
    assert {(s, t) for s, targets in graph().items() for t in targets if wrong_way(s, t)} == set()


def test_the_checks_see_a_cycle_and_a_wrong_way_link() -> None:
    """The checks themselves: a made-up graph with a cycle and a link back up is caught."""
    made_up = {"live_heatmap.a": {"live_heatmap.b"}, "live_heatmap.b": {"live_heatmap.a"},
               "liquidation_hunter.trading.x": {"liquidation_hunter.bot.y"}, "liquidation_hunter.bot.y": set()}
    assert cycles(made_up) == {frozenset({"live_heatmap.a", "live_heatmap.b"})}
    assert wrong_way("liquidation_hunter.trading.x", "liquidation_hunter.bot.y")
    assert wrong_way("live_heatmap.grid", "liquidation_hunter.signals.rules")
    assert not wrong_way("liquidation_hunter.bot.engine", "liquidation_hunter.trading.books")
    assert not wrong_way("strategies.base", "liquidation_hunter.signals.rules")
