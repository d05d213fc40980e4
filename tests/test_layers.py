"""The package's floors (../shared/STYLE.md): no module imports from a floor above its
own, and no two modules import each other, directly or round a longer circle."""

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "convlstm_ae"
# bottom to top; a module may import from its own floor and the floors below it
FLOORS = [
    {"errors", "config", "progress", "atomic", "rows"},
    {"data", "metrics", "viz"},
    {"model"},
    {"scoring"},
    {"release_files"},
    {"export"},
    {"release"},
    {"training"},
    {"pipeline", "demo"},
    {"live"},
    {"experiments"},
    {"arguments", "cli", "cli_common", "cli_data", "cli_experiments", "cli_live", "cli_models",
     "__init__", "__main__"},
]


def _floor(module: str) -> int:
    top = module.split(".")[0]
    return next(i for i, names in enumerate(FLOORS) if top in names)


def imports(source: Path = SOURCE) -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports."""
    graph = {}
    for path in source.rglob("*.py"):
        module = ".".join(path.relative_to(source).with_suffix("").parts)
        module = module.removesuffix(".__init__")
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("convlstm_ae."):
                targets.add(node.module.removeprefix("convlstm_ae."))
        graph[module] = targets
    return graph


def upward(graph: dict[str, set[str]]) -> list[str]:
    return sorted(f"{module} -> {target}" for module, targets in graph.items()
                  for target in targets if _floor(target) > _floor(module))


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Import circles between modules, each as the path that closes it."""
    found, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            found.append(path[path.index(module):] + [module])
            return
        if module in done:
            return
        for target in sorted(graph.get(module, ())):
            visit(target, path + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    return found


def test_no_module_imports_from_a_floor_above():
    assert not upward(imports())


def test_no_import_circle():
    assert not circles(imports())


def test_the_checks_catch_an_arrow_up_and_a_circle(tmp_path):
    for name, text in (("pipeline/a.py", "from convlstm_ae.live.b import x\n"),
                       ("live/b.py", "from convlstm_ae.live.c import y\n"),
                       ("live/c.py", "from convlstm_ae.live.b import z\n")):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    graph = imports(tmp_path)
    assert upward(graph) == ["pipeline.a -> live.b"]
    assert circles(graph) == [["live.b", "live.c", "live.b"]]
