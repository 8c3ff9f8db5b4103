"""Test doubles stay out of production: no module of leap_rl but leap_rl.testing imports it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).parents[2] / "leap_rl"
TESTING = "leap_rl.testing"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Every module (and ``from X import name`` as ``X.name``) that ``module``'s source imports,
    at any depth (imports inside functions count too), relative imports resolved."""
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_no_production_module_imports_the_testing_module():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        if module == TESTING:
            continue
        imported = _imported(ast.parse(path.read_text()), module, path.name == "__init__.py")
        if any(name == TESTING or name.startswith(TESTING + ".") for name in imported):
            offenders.append(module)
    assert not offenders, f"production modules import {TESTING} (test doubles): {offenders}"


def test_the_walk_sees_every_import_form():
    for source in ("import leap_rl.testing", "from leap_rl import testing",
                   "from leap_rl.testing import StandInTask",
                   "def f():\n    from .. import testing"):
        assert TESTING in _imported(ast.parse(source), "leap_rl.distributed.runners", False)
