"""lime's ``ImageExplanation`` helpers: an older place of the lime view of an Explanation.

They live in :mod:`limetheory.explanation` beside :class:`~limetheory.explanation.Explanation`;
the names stay importable from here.
"""
from .explanation import LabelNotExplainedError, LimeImageExplanation, get_image_and_mask, lime_intercept, local_exp

__all__ = ["LabelNotExplainedError", "LimeImageExplanation", "get_image_and_mask", "lime_intercept", "local_exp"]
