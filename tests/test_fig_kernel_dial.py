"""The kernel-width figure on its shape detector: the values the docs quote, and the figure files."""
import numpy as np

from limetheory.paper_figures import fig_kernel_dial as fig


def test_shape_detector_dial_and_figure(tmp_path):
    """A bar in superpixels 4, 5, 6: f = z_4 z_5 z_6, so occlusion 1, Banzhaf 2^-2, Shapley 1/3 on them (0 elsewhere),
    and LIME's limit runs from occlusion at width 0.01 to Banzhaf at width 100."""
    panel = fig.dial(*fig.shape_detector_case())
    inside = np.isin(np.arange(12), [4, 5, 6])
    np.testing.assert_allclose(panel["occlusion"], np.where(inside, 1.0, 0.0))
    np.testing.assert_allclose(panel["banzhaf"], np.where(inside, 0.25, 0.0), atol=1e-15)
    np.testing.assert_allclose(panel["shapley"], np.where(inside, 1 / 3, 0.0), atol=1e-15)
    np.testing.assert_allclose(panel["lime"][0], panel["occlusion"], atol=1e-9)
    np.testing.assert_allclose(panel["lime"][-1], panel["banzhaf"], atol=1e-5)  # pi is constant to O(1 / width^2)
    assert panel["ig"] is None
    paths = fig.draw([panel], tmp_path)
    assert [p.suffix for p in paths] == [".png", ".pdf"] and all(p.stat().st_size > 10_000 for p in paths)
