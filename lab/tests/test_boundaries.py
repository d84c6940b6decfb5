"""The lab and the tool stay two programs (issue 10 item 1, DESIGN 6): neither imports the other.

Every Python file of the lab (``lab/provision_lab``, ``lab/tests``) and of the tool's package
(``provisioner``) is parsed with ``ast`` and its imports read, ``import_module("...")`` and
``__import__("...")`` with a literal name included; nothing is executed.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LAB = REPO / "lab"
PRODUCT = REPO / "provisioner"


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """(line, module) for every import in a file: ``import a.b``, ``from a.b import c``, and
    ``importlib.import_module("a.b")`` / ``__import__("a.b")`` with a literal name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                yield node.lineno, node.args[0].value


def imports_of(path: Path, package: str) -> list[str]:
    """``file:line imports module`` for each import of ``package`` (or a module inside it)."""
    return [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for line, module in imported(path)
        if module == package or module.startswith(package + ".")
    ]


def lab_files() -> list[Path]:
    return sorted(p for folder in ("provision_lab", "tests") for p in (LAB / folder).rglob("*.py"))


def test_the_tool_imports_nothing_of_the_lab() -> None:
    found = [hit for path in sorted(PRODUCT.rglob("*.py")) for hit in imports_of(path, "provision_lab")]
    assert found == []


def test_the_lab_imports_nothing_of_the_tool() -> None:
    found = [hit for path in lab_files() for hit in imports_of(path, "provisioner")]
    assert found == []


def dependencies(pyproject: Path) -> set[str]:
    """The normalized distribution names a pyproject.toml declares as runtime dependencies: the main ones
    and its extras' (the Celery executor's ``celery`` extra), not the ``test`` extra."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    extras = project.get("optional-dependencies", {})
    declared = [
        *project["dependencies"],
        *(entry for name, group in extras.items() if name != "test" for entry in group),
    ]
    return {normalized(re.split(r"[<>=!~;\[ ]", entry, maxsplit=1)[0]) for entry in declared}


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def undeclared(package: Path, pyproject: Path) -> list[str]:
    """``file:line imports module (distribution)`` for each import in ``package`` of a module that is
    neither the standard library's (``sys.stdlib_module_names``), nor the package's own, nor from a
    distribution that ``pyproject`` declares as a runtime dependency. A module no installed
    distribution provides shows as ``(?)``."""
    owners = importlib.metadata.packages_distributions()
    declared = dependencies(pyproject)
    return sorted(
        f"{path.relative_to(package.parent)}:{line} imports {module} ({', '.join(owners.get(top, ['?']))})"
        for path in sorted(package.rglob("*.py"))
        for line, module in imported(path)
        if (top := module.split(".")[0]) not in sys.stdlib_module_names
        and top != package.name
        and not any(normalized(dist) in declared for dist in owners.get(top, []))
    )


@pytest.mark.parametrize(
    ("package", "pyproject"),
    [(PRODUCT, REPO / "pyproject.toml"), (LAB / "provision_lab", LAB / "pyproject.toml")],
    ids=["provision", "provision-lab"],
)
def test_every_module_a_distribution_imports_comes_from_a_dependency_it_declares(
    package: Path, pyproject: Path
) -> None:
    """A module imported only because another dependency happens to pull it in (certifi through
    requests, say) breaks the day that dependency stops doing so; each distribution names what its
    code imports (the tool's lean WS-Man client imports pyspnego, so the tool declares it too)."""
    assert undeclared(package, pyproject) == []


def test_the_declaration_check_names_each_undeclared_import(tmp_path: Path) -> None:
    """The checker itself: the standard library, the package's own modules and a declared
    distribution (under its distribution name, not its module name) pass; the rest are named."""
    (tmp_path / "pyproject.toml").write_text('[project]\ndependencies = ["PyYAML>=6", "rich"]\n', encoding="utf-8")
    package = tmp_path / "sample"
    package.mkdir()
    (package / "mod.py").write_text(
        "import os.path\nimport yaml\nfrom rich.console import Console\nfrom sample import mod\n"
        "import certifi\nimport no_such_module_anywhere\n",
        encoding="utf-8",
    )
    assert undeclared(package, tmp_path / "pyproject.toml") == [
        "sample/mod.py:5 imports certifi (certifi)",
        "sample/mod.py:6 imports no_such_module_anywhere (?)",
    ]


def test_tree_sitter_is_the_labs_alone() -> None:
    """Issue 10 item 1: the PowerShell parser is the lab's; the tool declares no tree-sitter."""
    tool, lab = dependencies(REPO / "pyproject.toml"), dependencies(LAB / "pyproject.toml")
    assert {"tree-sitter", "tree-sitter-pwsh"} <= lab
    assert not {name for name in tool if name.startswith("tree-sitter")}


def test_the_walk_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The checker itself: each import form is found, a relative import and other packages are not."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import provisioner\n"
        "import provisioner.render as r\n"
        "from provisioner.records import parse_output\n"
        "from . import provisioner\n"
        "import provisioner_extra\n"
        "import importlib\n"
        "importlib.import_module('provisioner.cli')\n"
        "__import__('provisioner')\n",
        encoding="utf-8",
    )
    lines = sorted(
        line for line, module in imported(sample) if module == "provisioner" or module.startswith("provisioner.")
    )
    assert lines == [1, 2, 3, 7, 8]
