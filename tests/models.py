"""Small deterministic models shared by the tests (not part of the package)."""
import numpy as np

from limetheory.analytic import LinearModel, ShapeDetector
from limetheory.segmentation import grid


class BlockSoftmax:
    """Softmax over classes of a linear map of 4x4-block mean colours: depends on where things are."""

    def __init__(self, shape, n_classes=6, seed=0, scale=0.003):
        """``scale``: weight standard deviation; the default gives O(1) logits on [0, 255] images (a
        saturated softmax is constant to rounding on every sample, and its explanation is zero)."""
        self.shape = tuple(shape)
        h, w = self.shape[:2]
        c = self.shape[2] if len(self.shape) == 3 else 1
        rng = np.random.default_rng(seed)
        self.rows = (np.arange(h) * 4) // h
        self.cols = (np.arange(w) * 4) // w
        self.weights = rng.normal(size=(16 * c, n_classes)) * scale
        self.calls = []

    def features(self, images):
        x = np.asarray(images, dtype=np.float64)
        if x.ndim == 3:
            x = x[..., None]
        block = self.rows[:, None] * 4 + self.cols[None, :]
        onehot = np.eye(16)[block]  # (H, W, 16)
        feats = np.einsum("nhwc,hwb->nbc", x, onehot) / np.maximum(onehot.sum((0, 1)), 1)[:, None]
        return feats.reshape(x.shape[0], -1)

    def __call__(self, images):
        self.calls.append(len(images))
        s = self.features(images) @ self.weights
        return _softmax(s)


class PerImageBlockSoftmax(BlockSoftmax):
    """BlockSoftmax computed one image at a time: its outputs, bits included, do not depend on how
    the images are batched (a batched matrix product may block differently for other batch shapes
    inside BLAS, so only a per-image model lets a test claim bit-equality across batch sizes)."""

    def __call__(self, images):
        self.calls.append(len(images))
        s = np.concatenate([self.features(image[None]) @ self.weights for image in images])
        return _softmax(s)


def _softmax(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


#: The kernel width of the convergence and uncertainty tests (lime's default for images).
KERNEL_WIDTH = 0.25


def bar_scene(size, n_grid, seed=0):
    """A dark image with a bright bar crossing several superpixels (so f(x(z)) is non-linear)."""
    rng = np.random.default_rng(seed)
    image = rng.uniform(0.0, 0.3, size=(size, size))
    mask = np.zeros((size, size), dtype=bool)
    mask[size // 4 : size // 2 + 1, size // 8 : (3 * size) // 4] = True
    image[mask] = 0.9
    return image, grid(image.shape, n_grid, n_grid), mask, rng


def convergence_models(image, mask, rng):
    """A shape detector, two non-linear models (tanh of a linear map, a product of two regions) and a
    linear model, keyed by name; the non-linear ones are what make f(x(z)) non-linear in z."""
    w = rng.normal(size=image.size) / np.sqrt(image.size)

    def tanh_model(images):
        return np.tanh(3.0 * np.asarray(images).reshape(len(images), -1) @ w)

    cells = (np.arange(image.size) % 5 == 0).astype(float)

    def product_model(images):  # a smooth interaction between two image regions
        x = np.asarray(images).reshape(len(images), -1)
        return (x @ cells) * (x @ (1 - cells)) / image.size

    return {
        "shape detector": ShapeDetector(mask, 0.6),
        "tanh": tanh_model,
        "product": product_model,
        "linear": LinearModel(rng.normal(size=image.shape)),
    }
