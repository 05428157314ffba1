"""The shape of the package: no import cycle inside the world, imports at the top of modules."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mmcourse"
WORLD = sorted((PACKAGE / "world").glob("*.py"))
CORE = [PACKAGE / f"{name}.py" for name in ("cache", "encoders", "runtime", "training")]


def _imports(path: Path) -> list[tuple[ast.AST, str]]:
    """``(node, module)`` of every import in ``path``, relative imports resolved to dotted names."""
    tree = ast.parse(path.read_text())
    package = ".".join(("mmcourse", *path.relative_to(PACKAGE).parent.parts))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            found.append((node, module))
        elif isinstance(node, ast.Import):
            found += [(node, alias.name) for alias in node.names]
    return found


def test_the_world_modules_import_each_other_one_way():
    graph = {}
    for path in WORLD:
        name = f"mmcourse.world.{path.stem}"
        graph[name] = {m for _, m in _imports(path) if m.startswith("mmcourse.world.") and m != name}
    graph.pop("mmcourse.world.__init__")
    state: dict[str, str] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])
    assert "mmcourse.world.language" in graph["mmcourse.world.vocab"]  # the vocabulary is built from the grammar
    assert "mmcourse.world.vocab" not in graph["mmcourse.world.language"]


@pytest.mark.parametrize("path", [*WORLD, *CORE], ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_imports_are_at_the_top_of_the_module(path):
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    inner = [node.lineno for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in top]
    assert not inner, f"{path.name}: imports inside functions at lines {inner}"
