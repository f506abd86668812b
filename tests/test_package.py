"""The public surface: names exported, the native stub in step with the module."""
import ast
from pathlib import Path

import archbudget
from archbudget import _core, errors


def test_all_names_exist():
    for name in archbudget.__all__:
        assert hasattr(archbudget, name), name


def test_stub_names_equal_module_names():
    stub = Path(_core.__file__).with_name("_core.pyi")
    if not stub.exists():  # an installed wheel keeps the stub beside the package sources
        stub = Path(archbudget.__file__).with_name("_core.pyi")
    tree = ast.parse(stub.read_text())
    declared = {
        node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    } | {t.id for node in tree.body if isinstance(node, ast.AnnAssign) for t in [node.target]}
    public = {n for n in dir(_core) if not n.startswith("_")} | {"__version__"}
    assert declared == public


def test_every_error_class_is_an_archbudget_error():
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), archbudget.ArchBudgetError)
        assert issubclass(getattr(errors, name), ValueError)
