"""The longest functions and the largest modules of the project (outside tests), by an AST
scan: `python -m tests.sizes [--top N]`. The house limits are 60 lines a function and 400 a
module; the scan prints every one over them first."""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("workbench", "es", "baselines", "reproductions")
FUNCTION_LIMIT, MODULE_LIMIT = 60, 400


def scan() -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(lines, "path:line name") of every function, and (lines, path) of every module."""
    functions, modules = [], []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text()
            rel = path.relative_to(ROOT)
            modules.append((len(text.splitlines()), str(rel)))
            for node in ast.walk(ast.parse(text)):
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    functions.append((node.end_lineno - node.lineno + 1,
                                      f"{rel}:{node.lineno} {node.name}"))
    return sorted(functions, reverse=True), sorted(modules, reverse=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--top", type=int, default=10)
    args = ap.parse_args()
    functions, modules = scan()
    over_f = [f for f in functions if f[0] > FUNCTION_LIMIT]
    over_m = [m for m in modules if m[0] > MODULE_LIMIT]
    print(f"functions over {FUNCTION_LIMIT} lines: {len(over_f)}; modules over "
          f"{MODULE_LIMIT} lines: {len(over_m)}")
    print(f"\nlongest functions (top {args.top}):")
    for n, name in functions[:args.top]:
        print(f"{n:5d}  {name}")
    print(f"\nlargest modules (top {args.top}):")
    for n, name in modules[:args.top]:
        print(f"{n:5d}  {name}")


if __name__ == "__main__":
    main()
