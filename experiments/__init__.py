"""The paper's experiments, one module each; run them with ``limetheory reproduce``.

Adding an experiment takes three steps:

1. ``experiments/<name>.py`` defining the interface described in :mod:`experiments._runner`
   (``NAME, TITLE, VERSION, settings(quick), units(settings), setup(settings),
   run_unit(unit, context)`` and optionally ``arrays(context)``, ``tables(frame, settings)``);
2. ``paper_figures/fig_<name>.py`` defining ``make(out) -> list[Path]`` (reads
   ``out/results``, writes ``out/figures``);
3. one line in :data:`REGISTRY` below.
"""
from ._runner import RunReport, experiment_names, load_experiment, make_figures, reproduce, run_experiment

#: name -> (experiment module, paper_figures scripts), in the order ``reproduce`` runs them.
REGISTRY = {
    "shape_detector": ("experiments.shape_detector", ("paper_figures.fig_shape_detector",)),
    "linear_model": ("experiments.linear_model", ("paper_figures.fig_linear_model",)),
    "convergence": ("experiments.convergence", ("paper_figures.fig_convergence",)),
    "bandwidth": ("experiments.bandwidth", ("paper_figures.fig_bandwidth",)),
    "lime_vs_ig": ("experiments.lime_vs_ig", ("paper_figures.table_lime_vs_ig",)),
    "qualitative": ("experiments.qualitative", ("paper_figures.fig_qualitative",)),
}

__all__ = ["REGISTRY", "RunReport", "experiment_names", "load_experiment", "make_figures", "reproduce",
           "run_experiment"]
