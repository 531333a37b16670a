import os
import zlib

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# The default run is deterministic (same examples every time, as CI needs);
# ``HYPOTHESIS_PROFILE=explore`` draws fresh, more numerous examples to hunt for counterexamples.
settings.register_profile(
    "default", deadline=None, max_examples=30, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "explore", deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def rng(request):
    """A generator seeded by the test's name: the same draws whatever tests run, in any order."""
    return np.random.default_rng(zlib.crc32(request.node.name.encode()))


@pytest.fixture(scope="module")
def jax_float64():
    """JAX in float64 for the whole module that asks for it (``pytestmark =
    pytest.mark.usefixtures("jax_float64")``), and back to the default after its last test: no
    module switches JAX's precision for the modules that run after it."""
    import jax

    with jax.enable_x64(True):
        yield


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """``quick_run(name)``: the folder of experiment ``name``'s quick run (figures included), run
    once per test module."""
    from limetheory.experiments import run_experiment

    folders = {}

    def run(name):
        if name not in folders:
            folders[name] = tmp_path_factory.mktemp(name)
            run_experiment(name, folders[name], quick=True, progress=False)
        return folders[name]

    return run
