"""limetheory: image LIME, its closed-form limit, and integrated gradients.

Public API (see README): :func:`segment`, :func:`replacement_image`, :func:`explain`,
:class:`Explanation`, and the submodules ``compat``, ``theory``, ``analytic``,
``gradients`` (imports JAX: ``from limetheory import gradients``), ``metrics``, ``nets``,
``data``, ``plotting``.
"""
from . import analytic, compat, data, metrics, nets, plotting, theory
from .analytic import LinearModel, ShapeDetector
from .empirical import explain
from .explanation import Explanation
from .segmentation import replacement_image, segment

__version__ = "0.1.0"
__all__ = [
    "Explanation",
    "LinearModel",
    "ShapeDetector",
    "analytic",
    "compat",
    "data",
    "explain",
    "metrics",
    "nets",
    "plotting",
    "replacement_image",
    "segment",
    "theory",
    "__version__",
]
