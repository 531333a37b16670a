"""Helpers shared by the JAX tests (integrated gradients, the LIME-IG comparison); not part of the package."""
import jax
import jax.numpy as jnp


def f64(a):
    """A float64 JAX array (models close over these, not over NumPy arrays: see the docs)."""
    with jax.enable_x64(True):
        return jnp.asarray(a, dtype=jnp.float64)
