"""Timing and memory helpers shared by the benchmark scripts."""
from __future__ import annotations

import time
import tracemalloc

import numpy as np


def timed(fn, repeat: int = 1) -> float:
    """Best wall time of ``repeat`` calls of ``fn``, in seconds."""
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def peak_memory(fn) -> float:
    """Peak memory traced by tracemalloc during ``fn()`` (NumPy reports its buffers to it), in MiB."""
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 2**20
