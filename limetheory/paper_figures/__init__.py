"""One script per figure or table of the paper's reproduction.

Every script ``limetheory/paper_figures/fig_<name>.py`` defines ``make(out) -> list[Path]``: it
reads the tidy results in ``out/results`` (written by ``limetheory/experiments/<name>.py``) and
writes PNG and PDF files to ``out/figures``. Run one alone with
``python -m limetheory.paper_figures.fig_<name> --out DIR``.
"""
