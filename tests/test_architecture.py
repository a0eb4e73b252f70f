"""The rules of docs/architecture.md that a reader cannot see from one file, checked on the whole tree.

Imports are read with `ast`, so imports inside functions count; only imports under `if TYPE_CHECKING:`
do not (they never run).
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ("certificates", "scanning", "sandbox", "trustedform")
PRODUCT = (*APPS, "tfdash")
MAX_LINES = 600


def modules() -> dict[str, Path]:
    found = {}
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = modules()


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_modules(module: str) -> set[str]:
    """Product modules `module` imports when it runs (at import time or inside a function)."""
    path = MODULES[module]
    tree = ast.parse(path.read_text())
    skipped = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and _type_checking_only(node)
        for n in ast.walk(node)
    }
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            # the longest product module the name refers to
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


GRAPH = {module: imported_modules(module) for module in MODULES}


def test_no_import_cycle_between_product_modules():
    # Tarjan's strongly connected components: any component of more than one module is a cycle.
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(GRAPH[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            visit(module)
    assert cycles == []


@pytest.mark.parametrize("app", APPS)
def test_no_app_module_imports_the_project_package(app):
    offenders = {
        m: sorted(t for t in GRAPH[m] if t.split(".")[0] == "tfdash") for m in GRAPH if m.split(".")[0] == app
    }
    assert {m: t for m, t in offenders.items() if t} == {}


def test_the_trustedform_client_imports_neither_django_nor_the_product():
    for module, path in MODULES.items():
        if module.split(".")[0] != "trustedform":
            continue
        tree = ast.parse(path.read_text())
        roots = {
            alias.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names
        }
        roots |= {
            n.module.split(".")[0]
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and n.module and not n.level
        }
        assert not roots & {"django", *PRODUCT} - {"trustedform"}, module


def test_the_sandbox_imports_nothing_of_the_product():
    for module in GRAPH:
        if module.split(".")[0] == "sandbox":
            assert {t.split(".")[0] for t in GRAPH[module]} <= {"sandbox"}, module


def test_no_module_is_longer_than_the_limit():
    long = {m: n for m, p in MODULES.items() if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert long == {}
