"""Fail when any two authgate modules import each other, directly or in a ring.

import-linter's contracts (pyproject.toml) keep the layers apart and the
siblings acyclic, but a package's ``__init__`` is no sibling of its own
submodules: ``client/__init__`` re-exporting ``sdk`` while ``refresh`` did
``from authgate.client import quickstart`` was a cycle those contracts do not
see.  This check looks at every module (imports inside functions included,
``if TYPE_CHECKING:`` imports excluded, as they never run) and reports

* each strongly connected component of the import graph with more than one
  module (Tarjan's algorithm), and
* each ``from <package> import …`` (or relative ``from . import …``) in a
  module of that package or below: a submodule reaching for its own package's
  ``__init__``, which may be only half initialised at that moment.

Run it on the symlink tree ``make lint`` builds (``PYTHONPATH=build/typecheck``).
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from pathlib import Path

import grimp


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(root: str) -> None:
        # Iterative Tarjan: the graph is small, but recursion limits are not ours to raise.
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.find_modules_directly_imported_by(nxt)))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
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

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def _module_files(tree: Path, root: str) -> dict[str, Path]:
    files: dict[str, Path] = {}
    for folder, _dirs, names in os.walk(tree / root, followlinks=True):
        package = Path(folder).relative_to(tree).parts
        for name in names:
            if name.endswith(".py"):
                stem = name[:-3]
                parts = package if stem == "__init__" else (*package, stem)
                files[".".join(parts)] = Path(folder) / name
    return files


def _ancestor_imports(tree: Path, root: str) -> list[str]:
    """``from <own ancestor package> import …`` anywhere in a module (relative or not)."""
    problems = []
    for module, path in sorted(_module_files(tree, root).items()):
        is_package = path.name == "__init__.py"
        package = module if is_package else module.rpartition(".")[0]
        parts = module.split(".")
        ancestors = {".".join(parts[:i]) for i in range(1, len(parts))}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - node.level + 1]
                    target = ".".join([*base, node.module] if node.module else base)
                else:
                    target = node.module or ""
            elif isinstance(node, ast.Import):
                hits = [a.name for a in node.names if a.name in ancestors]
                target = hits[0] if hits else ""
            else:
                continue
            if target in ancestors:
                problems.append(
                    f"{path.relative_to(tree)}:{node.lineno}: {module} imports its own package "
                    f"{target} (its __init__); import from the submodule instead"
                )
    return problems


def main(root: str = "authgate") -> int:
    spec = importlib.util.find_spec(root)
    if spec is None or not spec.submodule_search_locations:
        print(f"{root} is not an importable package (set PYTHONPATH=build/typecheck)")
        return 2
    tree = Path(next(iter(spec.submodule_search_locations))).parent
    graph = grimp.build_graph(root, cache_dir=None, exclude_type_checking_imports=True)
    problems = _ancestor_imports(tree, root)
    problems += ["import cycle: " + " <-> ".join(cycle) for cycle in _cycles(graph)]
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"import cycles: {len(graph.modules)} modules, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
