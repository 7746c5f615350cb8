"""The import graph of our apps: no cycle between modules, and the orders→providers boundary.

Built with grimp from the source (not from what happens to be imported at run time), counting
every import: module level, inside functions and under ``TYPE_CHECKING``. Migrations are
modules like any other here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("config", "core", "merchants", "orders", "providers", "pipeline", "webhooks")

# Imports from ``providers`` into the domain that are known and owned by someone, with why.
# An entry that no longer exists fails the test too: remove it here when it is gone.
KNOWN_PROVIDER_IMPORTS = {
    # AccountReservation is a proxy of merchants.ProviderAccount (admin of leftover
    # reservations); moving it to merchants changes its app label, content type and
    # permissions (a migration on both apps): left for a planned migration.
    ("providers.brandsdistribution.models", "merchants.models"),
}


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(ROOT))  # this checkout's packages, whatever the venv points at
    try:
        built = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=False, cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))
    assert "orders.services.placement" in built.modules
    return built


def _edges(graph: grimp.ImportGraph) -> dict[str, set[str]]:
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm (iterative): the components with more than one module."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            advanced = False
            for nxt in successors:
                if nxt not in edges:
                    continue
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(edges[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _describe(components: Iterable[list[str]], edges: dict[str, set[str]]) -> str:
    lines = []
    for component in components:
        inside = set(component)
        lines.append(" <-> ".join(component))
        lines += [f"    {a} -> {b}" for a in component for b in sorted(edges[a] & inside)]
    return "\n".join(lines)


def test_the_cycle_finder_finds_a_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert strongly_connected(edges) == [["a", "b", "c"]]


def test_no_import_cycle_between_modules(graph):
    edges = _edges(graph)
    components = strongly_connected(edges)
    assert not components, "Import cycles:\n" + _describe(components, edges)


def _is_domain(module: str) -> bool:
    top = module.split(".")[0]
    if top in ("merchants", "pipeline", "webhooks"):
        return True
    return top == "orders" and module != "orders.lifecycle"


def test_providers_import_nothing_of_the_domain_but_the_lifecycle_vocabulary(graph):
    """providers may use ``orders.lifecycle`` (the domain's vocabulary) and nothing else of
    orders, merchants, pipeline or webhooks — the sandboxes included."""
    found = {
        (module, imported)
        for module in graph.find_descendants("providers") | {"providers"}
        for imported in graph.find_modules_directly_imported_by(module)
        if _is_domain(imported)
    }
    unexpected = sorted(found - KNOWN_PROVIDER_IMPORTS)
    assert not unexpected, "providers import the domain:\n" + "\n".join(
        f"  {a} -> {b}  ({', '.join(str(d['line_number']) for d in graph.get_import_details(importer=a, imported=b))})"
        for a, b in unexpected)
    stale = sorted(KNOWN_PROVIDER_IMPORTS - found)
    assert not stale, f"no longer imported; remove them from KNOWN_PROVIDER_IMPORTS: {stale}"


def test_lifecycle_is_pure(graph):
    assert graph.find_modules_directly_imported_by("orders.lifecycle") == set()
    source = (ROOT / "orders" / "lifecycle.py").read_text()
    assert "django" not in source and "providers" not in source.split('"""', 2)[-1]


def test_order_services_never_import_tasks_or_dispatch(graph):
    services = graph.find_descendants("orders.services") | {"orders.services"}
    direct = sorted(
        (module, imported)
        for module in services
        for imported in graph.find_modules_directly_imported_by(module)
        if imported in ("orders.tasks", "orders.dispatch")
    )
    assert not direct, f"orders.services imports tasks/dispatch: {direct}"
    for target in ("orders.tasks", "orders.dispatch"):
        chain = graph.find_shortest_chains(importer="orders.services", imported=target,
                                           as_packages=True)
        assert not chain, f"orders.services reaches {target} through {sorted(chain)}"


def test_the_registry_knows_no_account_model(graph):
    """providers.registry builds a service from a plain AccountConfig: it never reaches
    merchants (the old cycle merchants.models -> providers.registry -> ... -> merchants)."""
    assert not graph.chain_exists(importer="providers.registry", imported="merchants.models")
    assert not graph.chain_exists(importer="providers.base", imported="orders.models")
