"""The import graph of leap_rl: no circle of any kind, and no arrow up from the lower layers.

Every ``import`` counts, at module level or inside a function (a lazy import is still an
arrow). For circles, imports under ``if TYPE_CHECKING:`` count too (a type checker follows them:
the dependency must point one way even for it); for layers they do not (a lower layer may name
a higher one's type in an annotation). Backends are found by name through
:mod:`leap_rl.backends`' registry, which is not an import.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[2] / "leap_rl"
# Each layer may import only from the layers listed before it (and from itself).
# leap_rl.evaluation.stats and .bootstrap are pure numpy (the evaluation's definitions of AUC,
# normalization and intervals), so meta-validation below the distributed layer shares them;
# leap_rl.validation.config is the validation: section the config loader imports.
LAYERS = [
    ["leap_rl", "leap_rl.core", "leap_rl.backends", "leap_rl.evaluation.stats",
     "leap_rl.evaluation.bootstrap"],
    ["leap_rl.envs", "leap_rl.io.storage", "leap_rl.io.artifacts", "leap_rl.io"],
    ["leap_rl.agent", "leap_rl.config", "leap_rl.backends.contract", "leap_rl.validation.config"],
    ["leap_rl.backends.base", "leap_rl.backends.a2c_task", "leap_rl.backends.a2c",
     "leap_rl.baselines", "leap_rl.rllib", "leap_rl.testing", "leap_rl.io.tracking"],
    ["leap_rl.validation"],
    ["leap_rl.distributed"],
    ["leap_rl.evaluation"],
    ["leap_rl.sweep"],
    ["leap_rl.cli"],
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, type_checking: bool = False) -> set[str]:
    """leap_rl modules imported by the file; TYPE_CHECKING blocks only with ``type_checking``."""
    tree, found = ast.parse(path.read_text()), set()

    def visit(node):
        if (not type_checking and isinstance(node, ast.If)
                and "TYPE_CHECKING" in ast.unparse(node.test)):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("leap_rl"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("leap_rl"):
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)
    visit(tree)
    return found


def graph(type_checking: bool = False) -> dict[str, set[str]]:
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {m: {i for i in imports(p, type_checking) if i in files and i != m}
            for m, p in files.items()}


def layer(module: str) -> int:
    """The layer of the longest listed prefix of ``module``."""
    best = max((p for row in LAYERS for p in row if module == p or module.startswith(p + ".")),
               key=len)
    return next(i for i, row in enumerate(LAYERS) if best in row)


def test_no_import_circle_even_for_type_checkers():
    g, state, cycles = graph(type_checking=True), {}, []

    def dfs(node, path):
        state[node] = "open"
        for nxt in sorted(g[node]):
            if state.get(nxt) == "open":
                cycles.append(path[path.index(nxt):] + [nxt])
            elif nxt not in state:
                dfs(nxt, path + [nxt])
        state[node] = "done"
    for module in sorted(g):
        if module not in state:
            dfs(module, [module])
    assert not cycles, "\n".join(" → ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(graph()))
def test_no_upward_arrow(module):
    upward = [i for i in sorted(graph()[module]) if layer(i) > layer(module)]
    assert not upward, f"{module} (layer {layer(module)}) imports " + ", ".join(
        f"{i} (layer {layer(i)})" for i in upward)
