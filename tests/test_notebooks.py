"""The tutorial notebooks (notebooks/*.py, jupytext percent format) cannot rot.

They are executed once per test run, by the documentation build (tests/test_docs.py: myst-nb runs
every cell in a kernel of this interpreter, and any exception fails the build). Here, cheaply:
the notebooks are the expected four, each parses as a notebook with code cells, and each checks
its own results with assertions (a notebook that only prints can drift without failing).
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest
from oracles import require

jupytext = require("jupytext")

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))


def test_notebooks_found():
    names = [p.name for p in NOTEBOOKS]
    assert names == [
        "01_lime_and_its_limit.py",
        "02_shape_detectors_and_linear_models.py",
        "03_lime_and_integrated_gradients.py",
        "04_one_image_every_method.py",
    ], names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_parses_and_asserts(path: Path):
    nb = jupytext.read(path)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    assert code, f"{path.name} has no code cells"
    asserts = [node for cell in code for node in ast.walk(ast.parse(cell)) if isinstance(node, ast.Assert)]
    assert len(asserts) >= 2, f"{path.name} checks nothing it computes"
