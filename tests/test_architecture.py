"""The architecture as contracts: the layers (service, geodata, the core, and the roles inside the
core) and the checker's independence, checked by import-linter from `.importlinter`; and no
module importing another module's private name, checked here over every Python file."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

PROJECT_PACKAGES = ("optimiser", "geodata", "service", "benchmarks", "tests")


def test_the_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    run = subprocess.run([str(lint_imports), "--config", str(ROOT / ".importlinter"), "--no-cache"], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    # a broken contract's report names each import that breaks it, file and line
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 broken" in run.stdout


def _private_names_taken(source: str, name: str) -> list[str]:
    """Each place in the module ``source`` (called ``name``) where a private name of another module
    of the project is imported (``from x import _y``) or read off an imported module (``import x
    as m`` then ``m._y``)."""
    tree = ast.parse(source, filename=name)
    found, modules = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            ours = node.level > 0 or (node.module or "").split(".")[0] in PROJECT_PACKAGES
            for alias in node.names:
                if ours and alias.name.startswith("_") and not alias.name.startswith("__"):
                    where = "." * node.level + (node.module or "")
                    found.append(f"{name}:{node.lineno}: from {where} import {alias.name}")
                elif ours:  # a module imported by name: `from optimiser.engine import ruin_recreate`
                    modules[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PROJECT_PACKAGES:
                    modules[alias.asname or alias.name.split(".")[0]] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            found.append(f"{name}:{node.lineno}: {modules[node.value.id]}.{node.attr}")
    return found


def test_no_module_imports_another_modules_private_name():
    files = [p for package in PROJECT_PACKAGES if (ROOT / package).is_dir() for p in (ROOT / package).rglob("*.py")]
    assert len(files) > 40
    taken = [place for path in sorted(files)
             for place in _private_names_taken(path.read_text(), str(path.relative_to(ROOT)))]
    assert not taken, "private names taken from another module:\n" + "\n".join(taken)


@pytest.mark.parametrize("source, expected", [
    ("from optimiser.engine.single import _ordered_trips\n", "from optimiser.engine.single import _ordered_trips"),
    ("from .plan import _secret\n", "from .plan import _secret"),
    ("import optimiser.engine.ruin_recreate as rr\nrr._seed(1)\n", "optimiser.engine.ruin_recreate._seed"),
    ("from optimiser.engine import search_model as S\nS._hidden\n", "optimiser.engine.search_model._hidden"),
])
def test_the_private_name_check_finds_each_way_of_taking_one(source, expected):
    # the check itself must be able to fail: each way of reaching a private name is caught
    assert any(expected in place for place in _private_names_taken(source, "probe.py"))


def test_the_private_name_check_leaves_public_and_foreign_names_alone():
    source = "import numpy as np\nfrom optimiser import solve\nnp._NoValue\nclass A:\n    _x = 1\nA._x\n"
    assert _private_names_taken(source, "probe.py") == []
