"""Small deterministic models shared by the tests (not part of the package)."""
import numpy as np


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
