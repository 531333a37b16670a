"""Sphinx extension: docstrings written in plain mathematical text stay plain text.

The library's docstrings write formulas as text: ``|beta_j|`` for an absolute value and ``E_-`` for
a set of superpixels. In reStructuredText the first is a substitution reference and the second a
hyperlink reference, both errors. Before numpydoc and autodoc parse a docstring, this extension
escapes them (``\\|beta_j\\|``, ``E\\_-``) outside inline literals, so they render as written.
"""
from __future__ import annotations

import re

_LITERAL = re.compile(r"(``.+?``|`[^`]+`_?|:\w+:`[^`]+`)")
_ABS = re.compile(r"(?<![\\|])\|(?=[^\s|])([^|\n]*?[^\s|\\])\|(?!\|)")
_REFERENCE = re.compile(r"(?<=[A-Za-z0-9])_(?=[\s\-+,.;:)\]}]|$)")


def escape_plain_text(text: str) -> str:
    """``text`` with absolute values and trailing underscores escaped outside literals."""
    parts = _LITERAL.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside literals and roles
        parts[i] = _REFERENCE.sub(r"\\_", _ABS.sub(r"\\|\1\\|", parts[i]))
    return "".join(parts)


def _process(app, what, name, obj, options, lines) -> None:
    in_table = False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("+-") or stripped.startswith("+="):
            in_table = True
        elif not stripped:
            in_table = False
        if not in_table and not stripped.startswith("|"):
            lines[i] = escape_plain_text(line)


def setup(app):
    app.connect("autodoc-process-docstring", _process, priority=100)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
