"""The layering rules of docs/architecture.md, checked on the import graph of `app`.

- `app.core` imports no feature: it is what every feature stands on.
- Features form no cycle: between feature packages, and between the parts of one
  feature, every dependency goes one way. Importing another package's `models`
  does not count: the tables are the shared schema, and relationships name each
  other both ways.
- A feature never imports another feature's repository: it asks that feature's
  service (or its package's exports) instead. Composition modules (`app.main`,
  `app.cli`, `app.worker`, `app.demo`) wire features together and may import
  anything.
"""

from __future__ import annotations

from collections import defaultdict
from functools import cache

import grimp
import pytest

FEATURES = (
    "activities",
    "clients",
    "emergency",
    "identity",
    "integrations",
    "ledger",
    "merchants",
    "notifications",
    "orgs",
    "rewards",
    "tenants",
    "volunteers",
    "webhooks",
)


@cache
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("app")


def imports() -> list[tuple[str, str]]:
    g = graph()
    return [
        (importer, imported)
        for importer in sorted(g.modules)
        for imported in sorted(g.find_modules_directly_imported_by(importer))
    ]


def feature_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in FEATURES else None


def is_models(module: str) -> bool:
    return module.rsplit(".", 1)[-1] == "models"


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, as the list of its nodes, or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_core_imports_no_feature() -> None:
    outside = [
        f"{importer} -> {imported}"
        for importer, imported in imports()
        if importer.startswith("app.core") and not imported.startswith("app.core")
    ]
    assert outside == []


def test_feature_packages_depend_on_each_other_one_way() -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for importer, imported in imports():
        source, target = feature_of(importer), feature_of(imported)
        if source and target and source != target and not is_models(imported):
            edges[source].add(target)
    assert cycle(edges) is None


@pytest.mark.parametrize("feature", FEATURES)
def test_the_parts_of_a_feature_depend_on_each_other_one_way(feature: str) -> None:
    package = f"app.{feature}"
    depth = package.count(".") + 1

    def part(module: str) -> str | None:
        if not module.startswith(package + "."):
            return None
        return ".".join(module.split(".")[: depth + 1])

    edges: dict[str, set[str]] = defaultdict(set)
    for importer, imported in imports():
        source, target = part(importer), part(imported)
        if source and target and source != target and not is_models(imported):
            edges[source].add(target)
    assert cycle(edges) is None


def test_no_feature_imports_another_features_repository() -> None:
    reached_into = [
        f"{importer} -> {imported}"
        for importer, imported in imports()
        if feature_of(importer)
        and feature_of(imported)
        and feature_of(importer) != feature_of(imported)
        and "repository" in imported.split(".")
    ]
    assert reached_into == []


def test_no_feature_imports_the_composition_modules() -> None:
    composition = ("app.main", "app.cli", "app.worker", "app.demo")
    upward = [
        f"{importer} -> {imported}"
        for importer, imported in imports()
        if (feature_of(importer) or importer.startswith("app.core"))
        # By whole module names: `app.clients` is a feature, not `app.cli`.
        and any(imported == c or imported.startswith(c + ".") for c in composition)
    ]
    assert upward == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}}) is None
