"""The package's floors: no module imports from a module above it."""

import ast
from pathlib import Path

SOURCE = Path(__file__).resolve().parents[1] / "src" / "convlstm_ae"
# bottom to top; a module may import from its own floor and the floors below it
FLOORS = [
    {"errors", "config", "progress", "atomic"},
    {"data", "metrics", "viz"},
    {"model"},
    {"scoring", "export", "release_files"},
    {"release"},
    {"training"},
    {"pipeline", "live", "demo"},
    {"experiments"},
    {"arguments", "cli", "__init__"},
]


def _floor(module: str) -> int:
    top = module.split(".")[0]
    return next(i for i, names in enumerate(FLOORS) if top in names)


def test_no_module_imports_from_a_floor_above():
    upward = []
    for path in SOURCE.rglob("*.py"):
        module = ".".join(path.relative_to(SOURCE).with_suffix("").parts)
        own = _floor(module.replace(".__init__", "") if module != "__init__" else module)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("convlstm_ae."):
                target = node.module.removeprefix("convlstm_ae.")
                if _floor(target) > own:
                    upward.append(f"{module} -> {target}")
    assert not upward, upward
