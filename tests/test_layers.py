"""The two layers of lib: methods import nothing from the pipeline (anywhere, even inside a function), and the
package's module-level imports form no cycle."""
import ast
from pathlib import Path

import pytest

from lib.pipeline.profiles import REPO_ROOT

LIB = REPO_ROOT / "lib"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")


def imports(path: Path, top_level_only: bool = False) -> set[str]:
    """The lib modules ``path`` imports (``from lib.x import y`` counts as lib.x and, if it exists, lib.x.y)."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if top_level_only else ast.walk(tree)
    found = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    known = {module_name(p) for p in LIB.rglob("*.py")}
    return {name for name in found if name in known}


METHODS = sorted((LIB / "methods").glob("*.py"))


@pytest.mark.parametrize("path", METHODS, ids=[p.stem for p in METHODS])
def test_methods_import_nothing_from_the_pipeline(path):
    outside = {name for name in imports(path) if not name.startswith("lib.methods")}
    assert not outside, f"{module_name(path)} imports {sorted(outside)}: methods take arrays, not pipeline objects"


def test_module_level_imports_form_no_cycle():
    graph = {module_name(p): imports(p, top_level_only=True) for p in LIB.rglob("*.py")}

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"import cycle: {' -> '.join(path[path.index(node):] + (node,))}"
        for nxt in graph.get(node, ()):
            visit(nxt, path + (node,))

    for module in graph:
        visit(module, ())
