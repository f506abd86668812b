import gzip
import importlib
import importlib.util
import json
import os
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = Path(__file__).parent.parent / "examples"


def pytest_addoption(parser):
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden from the current output")


@pytest.fixture
def golden(request):
    """Compare text with tests/golden/NAME, or rewrite it under --update-golden."""

    def check(name: str, text: str) -> None:
        path = GOLDEN / name
        if request.config.getoption("--update-golden"):
            path.write_text(text)
        assert path.exists(), f"no golden file {path}; run pytest --update-golden"
        assert text == path.read_text()

    return check


def generator_cases(script: str) -> list:
    """`CASES` of a fixture generator in tests/data (`make_hf_types`, ...), for the tests
    that compare with transformers live; empty where torch or transformers is absent."""
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        return []
    spec = importlib.util.spec_from_file_location(script, DATA / f"{script}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CASES


def load_keras_oracle() -> list[dict]:
    with gzip.open(DATA / "keras_models_dev.json.gz", "rt") as f:
        return json.load(f)["models"]


def require(module: str):
    """Import an optional library, or skip the test where it is absent; CI sets
    ARCHBUDGET_REQUIRE_EXTRAS=1 so that a missing one fails instead of skipping."""
    if os.environ.get("ARCHBUDGET_REQUIRE_EXTRAS"):
        return importlib.import_module(module)
    return pytest.importorskip(module)
