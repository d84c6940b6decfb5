"""The contract lives in provisioner/protocol/ alone (issue 14 item 1), and builds on nothing else
of the product, so every layer above can import it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "provisioner"
PROTOCOL = PACKAGE / "protocol"
CONTRACT = {
    "BEGIN",
    "END",
    "marker",
    "RECORD_PREFIX",
    "Record",
    "ScriptOutput",
    "parse_output",
    "decode_clixml",
    "BOOTSTRAP",
    "POWERSHELL_COMMAND",
    "BlockParams",
    "FactsParams",
    "RebootParams",
    "DiagnosticsParams",
}


def defined(path: Path) -> set[str]:
    """Names a module defines at its top level (classes, functions, assignments)."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def product_imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("provisioner"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("provisioner")}
    return found


def test_the_contract_is_defined_in_protocol_and_nowhere_else() -> None:
    elsewhere = {
        f"{path.relative_to(PACKAGE)}: {name}"
        for path in PACKAGE.rglob("*.py")
        if PROTOCOL not in path.parents
        for name in defined(path) & CONTRACT
    }
    assert elsewhere == set()
    assert set().union(*(defined(path) for path in PROTOCOL.glob("*.py"))) >= CONTRACT


def test_protocol_imports_nothing_else_of_the_product() -> None:
    imports = set().union(*(product_imports(path) for path in PROTOCOL.glob("*.py")))
    assert {module for module in imports if not module.startswith("provisioner.protocol")} == set()


def test_the_checks_see_a_definition_and_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from provisioner.render import Renderer\nBEGIN = 'x'\nclass Record: ...\ndef marker(): ...\n", encoding="utf-8"
    )
    assert defined(sample) & CONTRACT == {"BEGIN", "Record", "marker"}
    assert product_imports(sample) == {"provisioner.render"}
