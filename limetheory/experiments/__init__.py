"""The paper's experiments, one module each; run them with ``limetheory reproduce``.

Adding an experiment takes three steps:

1. ``limetheory/experiments/<name>.py`` meeting the contract :class:`Experiment` described in
   :mod:`limetheory.experiments.runner` (``NAME, TITLE, VERSION, settings(quick),
   units(settings), setup(settings), run_unit(unit, context)`` and optionally ``arrays(context)``,
   ``tables(frame, settings)``; the context is best a small frozen dataclass);
2. ``limetheory/paper_figures/fig_<name>.py`` defining ``make(out) -> list[Path]`` (reads
   ``out/results``, writes ``out/figures``);
3. one line in :data:`REGISTRY` below.
"""
from .executors import UnitsFailed, check_executor_arguments
from .runner import (CorruptUnitWarning, Experiment, RunReport, experiment_names, load_experiment, make_figures,
                      reproduce, run_experiment)

#: name -> (experiment module, paper_figures scripts), in the order ``reproduce`` runs them.
REGISTRY = {
    "shape_detector": ("limetheory.experiments.shape_detector", ("limetheory.paper_figures.fig_shape_detector",)),
    "linear_model": ("limetheory.experiments.linear_model", ("limetheory.paper_figures.fig_linear_model",)),
    "convergence": ("limetheory.experiments.convergence", ("limetheory.paper_figures.fig_convergence",)),
    "bandwidth": ("limetheory.experiments.bandwidth", ("limetheory.paper_figures.fig_bandwidth",)),
    "lime_vs_ig": ("limetheory.experiments.lime_vs_ig", ("limetheory.paper_figures.table_lime_vs_ig",
                                                         "limetheory.paper_figures.fig_lime_vs_ig",
                                                         "limetheory.paper_figures.fig_lime_vs_ig_additivity")),
    "lime_ig_decomposition": ("limetheory.experiments.lime_ig_decomposition",
                              ("limetheory.paper_figures.fig_lime_ig_decomposition",
                               "limetheory.paper_figures.table_lime_ig_decomposition")),
    "qualitative": ("limetheory.experiments.qualitative", ("limetheory.paper_figures.fig_qualitative",)),
    "sanity_randomisation": ("limetheory.experiments.sanity_randomisation",
                             ("limetheory.paper_figures.fig_sanity_randomisation",)),
    "remove_retrain": ("limetheory.experiments.remove_retrain", ("limetheory.paper_figures.fig_remove_retrain",)),
}

__all__ = ["REGISTRY", "CorruptUnitWarning", "Experiment", "RunReport", "UnitsFailed", "check_executor_arguments",
           "experiment_names", "load_experiment",
           "make_figures", "reproduce", "run_experiment"]
