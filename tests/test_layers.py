"""The import structure (issue 27): no module imports another in a loop, counting imports
written inside functions and under `if TYPE_CHECKING`, and the layers point one way:
reproductions -> es | baselines -> workbench, and within workbench the library never
imports the application (`APP`). A static scan of the source (ast), so an import hidden
anywhere in a file counts."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workbench", "es", "baselines", "reproductions")
#: The application layer inside workbench/: what drives the library (and the module that
#: starts the command).
APP = ("workbench.app", "workbench.__main__")


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The known modules `name` imports, anywhere in its file; `from a import b` counts
    as importing a.b when that is a module, else a."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def loops(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def in_app(name: str) -> bool:
    return any(name == a or name.startswith(a + ".") for a in APP)


def test_the_scan_finds_a_loop_and_a_hidden_import():
    assert loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert loops({"a": {"b"}, "b": set()}) == []
    edges = graph()
    # an import written inside a function counts (`config` imports the run config there)
    assert "workbench.app.runconfig" in edges["workbench.app.commands.config"]
    assert "workbench.tasks.base" in edges["workbench.rollout"]


def test_no_module_imports_another_in_a_loop():
    assert loops(graph()) == []


def test_layers_point_one_way():
    edges = graph()
    wrong = sorted(f"{a} -> {b}" for a, targets in edges.items() for b in targets
                   if (a.startswith("workbench") and not b.startswith("workbench"))
                   or (a.split(".")[0] in ("es", "baselines")
                       and b.split(".")[0] in ("es", "baselines", "reproductions")
                       and a.split(".")[0] != b.split(".")[0])
                   or (a.startswith("workbench") and not in_app(a) and in_app(b)))
    assert wrong == []


def test_the_design_map_names_every_module():
    """docs/design.md's layout table names every module file of the four packages (a file
    in a sub-package is named by its folder, e.g. `bench/`), so the map matches the tree."""
    doc = (ROOT / "docs" / "design.md").read_text()
    rows = "\n".join(line for line in doc.splitlines()
                     if line.startswith(tuple(f"| `{p}/" for p in PACKAGES)))
    missing = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name in ("__init__.py", "__main__.py"):
                continue
            folders = path.relative_to(ROOT / package).parts[:-1]
            named = f"`{path.name}`" in rows or any(f"`{f}/`" in rows for f in folders
                                                    if f != "app")
            if not named:
                missing.append(str(path.relative_to(ROOT)))
    assert missing == []


def test_the_design_walk_names_functions_that_exist():
    """docs/design.md's walk of `--set K=20` names real modules, classes and functions."""
    import importlib
    import re
    doc = (ROOT / "docs" / "design.md").read_text()
    walk = doc[doc.index("### From `--set K=20` to the trainer"):doc.index("## 2. Core")]
    # (an entry-point group, "the `workbench.algorithms` entry point", is not a module)
    names = sorted(set(re.findall(r"`((?:workbench|es|baselines)\.[\w.]+)`(?! entry point)",
                                  walk)))
    assert len(names) >= 10, names
    missing = []
    for name in names:
        parts = name.split(".")
        for cut in range(len(parts), 0, -1):  # the longest importable module prefix
            try:
                obj = importlib.import_module(".".join(parts[:cut]))
            except ImportError:
                continue
            module = ".".join(parts[:cut])
            try:
                for attr in parts[cut:]:
                    obj = getattr(obj, attr)
                    # named where it is defined, not where it is imported into
                    if module and getattr(obj, "__module__", module) != module:
                        missing.append(f"{name} (defined in {obj.__module__})")
                    module = ""
            except AttributeError:
                missing.append(name)
            break
        else:
            missing.append(name)
    assert missing == []
