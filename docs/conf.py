"""Sphinx configuration of the limetheory documentation (``make docs``).

Pages are MyST Markdown; the tutorials in ``notebooks/`` (jupytext percent scripts) are converted
to notebooks under ``docs/tutorials/`` and executed by myst-nb when the site is built; every number
quoted from a results file is generated into the pages by ``docs/_ext/results_pages.py``.
"""
from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS / "_ext"))

import limetheory  # noqa: E402
from results_numbers import substitutions  # noqa: E402

project = "limetheory"
author = "the limetheory authors"
copyright = "the limetheory authors"
release = version = limetheory.__version__

extensions = [
    "myst_nb",  # Markdown (myst-parser) and notebooks
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "results_pages",  # generated pages: tutorials, results tables, benchmark pages
    "plain_docstrings",  # |x| and E_- in docstrings are text, not reStructuredText references
]

exclude_patterns = ["_build", "_ext", "_generated", "**/.ipynb_checkpoints", "viewer_example.py", "README.md"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}
root_doc = "index"

# MyST: $...$ maths, substitutions {{ name }} filled from the committed results files
myst_enable_extensions = ["dollarmath", "amsmath", "substitution", "colon_fence", "deflist"]
myst_heading_anchors = 3
myst_substitutions = substitutions(ROOT)

# notebooks: executed once, when the site is built; an error in any cell fails the build
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_timeout = 600
nb_execution_in_temp = True
nb_merge_streams = True

# API reference: one page per public module, from the numpy-style docstrings
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "show-inheritance": False}
autodoc_member_order = "bysource"
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_validation_checks: set[str] = set()
numpydoc_xref_param_type = False

nitpicky = False
suppress_warnings = ["mystnb.unknown_mime_type"]

html_theme = "pydata_sphinx_theme"
html_title = "limetheory"
html_theme_options = {
    "navigation_depth": 3,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc"],
}
html_static_path: list[str] = []
html_show_sourcelink = False
