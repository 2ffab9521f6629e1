"""docgen's modules import one another without a cycle (counting the imports inside functions too,
which only hide one), and one way: from the CLI and the run down to the stages, from a stage to
the stages before it, and from all of them down to docgen.core."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "docgen"


def modules() -> dict[str, Path]:
    found = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(path: Path, known: dict) -> set[str]:
    """The docgen modules ``path`` imports, anywhere in it (a name imported from a package that
    is a module of it counts as that module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [f"{node.module}.{a.name}" for a in node.names]
            found |= {n if n in known else node.module for n in names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return {n for n in found if n in known}


def cycle(graph: dict[str, set]) -> list[str] | None:
    """One cycle of ``graph``, or None."""
    state: dict[str, int] = {}  # 1: on the path being walked, 2: done
    path: list[str] = []

    def walk(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := walk(nxt)):
                return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := walk(node)):
            return found
    return None


def test_no_module_imports_itself_around_a_cycle():
    known = modules()
    graph = {name: imports(path, known) - {name} for name, path in known.items()}
    assert cycle(graph) is None, " -> ".join(cycle(graph))


# Lowest first: a module imports from its own layer and those below only.
LAYERS = ["docgen", "verify", "core", "extract", "generate", "filter", "shard", "train", "samples",
          "run", "cli"]  # fmt: skip


def layer(module: str) -> str:
    """A module's layer: its folder under docgen/ (``docgen`` for the package itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "docgen"


def test_imports_point_down_the_flow():
    known = modules()
    assert {layer(m) for m in known} <= set(LAYERS), "a new folder: give it its place in LAYERS"
    upward = [f"{name} -> {dep}" for name, path in sorted(known.items())
              for dep in sorted(imports(path, known))
              if LAYERS.index(layer(dep)) > LAYERS.index(layer(name))]  # fmt: skip
    assert upward == []


def test_the_cycle_finder_finds_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": set()}) is None
