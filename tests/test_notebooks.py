"""Execute the tutorial notebooks (notebooks/*.py, jupytext percent format) so they cannot rot.

Each notebook is converted with jupytext and run top to bottom by nbclient in a kernel that runs
*this* interpreter (a kernelspec written to a temporary directory, ``argv[0] = sys.executable``),
so the notebooks see exactly the packages the tests see. Figures are rendered by the inline
backend (a broken plot fails at draw time, as it would for a reader) and never written to disk.
Any exception in any cell fails the test, with the cell's traceback in the message.
"""
from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

import pytest
from oracles import require

jupytext = require("jupytext")
nbclient = require("nbclient")
nbformat = require("nbformat")
require("ipykernel")
from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402  (installed with nbclient)
from jupyter_client.manager import KernelManager  # noqa: E402
from nbclient.exceptions import CellExecutionError  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.py"))
KERNEL_NAME = "limetheory-tests"
#: Per-cell limit (seconds). Each notebook takes well under a minute on a laptop; this leaves
#: room for a loaded CI machine without letting a hung cell block the suite.
CELL_TIMEOUT = 600

#: Appended to every notebook: proves the kernel ran this very interpreter.
_PROBE = "import sys as _sys\nprint('KERNEL-EXECUTABLE=' + _sys.executable)"


def _kernel_manager(tmp_path: Path) -> KernelManager:
    spec_dir = tmp_path / "kernels" / KERNEL_NAME
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "limetheory tests",
        "language": "python",
        # inline backend: figures are drawn (and so checked) but only kept in the cell outputs
        "env": {"MPLBACKEND": "module://matplotlib_inline.backend_inline"},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    ksm = KernelSpecManager(kernel_dirs=[str(tmp_path / "kernels")])
    return KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ksm)


def test_notebooks_found():
    names = [p.name for p in NOTEBOOKS]
    assert names == [
        "01_lime_and_its_limit.py",
        "02_shape_detectors_and_linear_models.py",
        "03_lime_and_integrated_gradients.py",
    ], names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path: Path, tmp_path: Path):
    nb = jupytext.read(path)
    assert any(c.cell_type == "code" for c in nb.cells), f"{path.name} has no code cells"
    nb.cells.append(nbformat.v4.new_code_cell(_PROBE))
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        km=_kernel_manager(tmp_path),
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(tmp_path)}},  # cwd: figures a notebook might save land here
        allow_errors=False,
    )
    start = time.perf_counter()
    try:
        client.execute()
    except CellExecutionError as exc:  # the message holds the failing cell and its traceback
        message = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # drop the traceback's terminal colours
        seconds = time.perf_counter() - start
        pytest.fail(f"{path.name} failed after {seconds:.0f} s:\n{message}", pytrace=False)
    probe = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    assert f"KERNEL-EXECUTABLE={sys.executable}" in probe, probe
    # a cell tagged "raises-exception" would pass execute(); tutorials must not rely on that
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, errors
