"""BLAS threads for small dense algebra: one thread, so a busy machine does not make it crawl.

The surrogate's algebra is small, (d + 1)^2 blocks with d a few hundred: a single core does it in
milliseconds. With several BLAS threads on a machine whose cores are busy, the threads wait for
each other at every synchronisation point and the same work can take a hundred times longer.
:func:`single_blas_thread` limits every loaded BLAS library to one thread for the duration of a
``with`` block (``threadpoolctl``); the controller is built once, so entering the block costs
microseconds.
"""
from __future__ import annotations

import contextlib

__all__ = ["single_blas_thread"]

_CONTROLLER = None


def _controller():
    global _CONTROLLER
    if _CONTROLLER is None:
        import numpy  # noqa: F401  (the BLAS libraries must be loaded before they are listed)
        import scipy.linalg  # noqa: F401
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


@contextlib.contextmanager
def single_blas_thread():
    """Run the enclosed block with one BLAS thread (restored on exit)."""
    with _controller().limit(limits=1, user_api="blas"):
        yield
