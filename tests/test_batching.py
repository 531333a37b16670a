"""limetheory.nets.batching.batched_jit: chunked, padded, jit-compiled NumPy prediction."""
import jax.numpy as jnp
import numpy as np
import pytest

from limetheory.nets.batching import PAD_MODES, batched_jit, padded_size


def _counting(fn):
    """``fn`` and the list of batch sizes it was traced with (one trace = one compilation)."""
    traced = []

    def wrapped(x, *args):
        traced.append(x.shape[0])
        return fn(x, *args)

    return wrapped, traced


def _rowwise(x, w):
    return jnp.tanh(x.reshape(x.shape[0], -1) @ w)


@pytest.mark.parametrize("pad", PAD_MODES)
@pytest.mark.parametrize("n", [1, 5, 8, 13])
def test_equals_the_unbatched_function(pad, n):
    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, 2, 3)).astype(np.float32)
    w = jnp.asarray(rng.normal(size=(6, 4)), jnp.float32)
    out = batched_jit(_rowwise, 4, pad=pad)(x, w)
    assert out.shape == (n, 4) and isinstance(out, np.ndarray) and out.dtype == np.float32
    np.testing.assert_allclose(out, np.asarray(_rowwise(x, w)), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("pad, sizes", [("full", {8}), ("pow2", {8, 4, 1}), ("none", {8, 3, 1})])
def test_compiled_shapes(pad, sizes):
    """N = 19, 11, 1 in chunks of 8: full pads to 8 (one program), pow2 to 4 and 1, none runs
    the remainders 3 and 1 as they are. New parameter values of the same shape never retrace."""
    fn, traced = _counting(_rowwise)
    run = batched_jit(fn, 8, pad=pad)
    w = jnp.ones((6, 4), jnp.float32)
    for n in (19, 11, 1):
        run(np.zeros((n, 2, 3), np.float32), w)
    run(np.zeros((19, 2, 3), np.float32), 2 * w)
    assert set(traced) == sizes and len(traced) == len(sizes)


@pytest.mark.parametrize("m, pad, expected", [(3, "full", 8), (3, "pow2", 4), (5, "pow2", 8), (1, "pow2", 1),
                                              (8, "pow2", 8), (3, "none", 3)])
def test_padded_size(m, pad, expected):
    assert padded_size(m, 8, pad) == expected


def test_padding_rows_are_copies_of_the_last_row():
    """Seen through a function that mixes rows (the batch minimum): the padded last chunk
    [5, 5, 5, 5] has minimum 5 (zero padding would give 0)."""
    run = batched_jit(lambda x: jnp.broadcast_to(x.min(), x.shape), 4, pad="full")
    out = run(np.arange(1.0, 6.0, dtype=np.float32)[:, None])
    np.testing.assert_array_equal(out[:, 0], [1.0, 1.0, 1.0, 1.0, 5.0])


def test_empty_input_gives_empty_output_of_the_right_shape():
    out = batched_jit(_rowwise, 4)(np.zeros((0, 2, 3), np.float32), jnp.ones((6, 5), jnp.float32))
    assert out.shape == (0, 5) and out.dtype == np.float32


def test_validation():
    with pytest.raises(TypeError, match="fn"):
        batched_jit(3, 4)
    with pytest.raises(ValueError, match="batch_size"):
        batched_jit(_rowwise, 0)
    with pytest.raises(TypeError, match="batch_size"):
        batched_jit(_rowwise, True)
    with pytest.raises(ValueError, match="pad"):
        batched_jit(_rowwise, 4, pad="zeros")
