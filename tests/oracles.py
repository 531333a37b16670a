"""Importing an optional oracle (lime, torch, captum, the notebook tools) in the tests.

Locally a missing oracle skips its tests; in CI (environment variable CI=true) every oracle must
run, so a missing one is a failure, not a silent skip.
"""
import importlib
import os

import pytest


def in_ci():
    """True when the environment variable CI is "true" (any case), as CI services set it."""
    return os.environ.get("CI", "").strip().lower() == "true"


def require(module):
    """Import and return ``module``; if it cannot be imported, skip the test locally, fail in CI."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        if in_ci():
            pytest.fail(f"oracle {module!r} cannot be imported in CI (CI=true): {err}", pytrace=False)
        pytest.skip(f"could not import {module!r}: {err}", allow_module_level=True)
