"""The documentation site builds with warnings as errors, and every file it cites exists.

One build per test session (``sphinx-build -W -E`` into a temporary folder, the tutorials executed
by myst-nb: a failing notebook cell fails the build). Then:

- no warning or error in the build log (a broken cross-reference, a missing include or image, a
  docstring that is not valid reStructuredText, a page left out of every toctree);
- every public module has its API page, and every tutorial its executed page with outputs;
- every repository path named in the docstrings, README.md, docs/ and notebooks/
  (``docs/...md``, ``results/...``, ``benchmarks/...py``, ...) exists, and every theory page
  section a docstring cites (``docs/theory/x.md, *Section*``) is a heading of that page;
- the README's results block is the one ``docs/_ext/results_numbers.py`` generates from the
  committed results files.
"""
from __future__ import annotations

import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest
from oracles import require

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
for _module in ("sphinx", "myst_nb", "numpydoc", "pydata_sphinx_theme", "jupytext"):
    require(_module)
sys.path.insert(0, str(DOCS / "_ext"))
import results_numbers  # noqa: E402

#: Seconds the whole build may take: the four tutorials dominate (a loaded 2-core CI machine).
BUILD_TIMEOUT = 1500


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    # the notebooks' kernels inherit this environment: the inline backend puts their figures in the pages
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="module://matplotlib_inline.backend_inline")
    run = subprocess.run([sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-E", "-q",
                          "-d", str(out / "doctrees"), str(DOCS), str(out / "html")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    return out / "html", run


def test_site_builds_without_warnings(site):
    html, run = site
    problems = [line for line in run.stderr.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL):", line)]
    assert run.returncode == 0 and not problems, "\n".join(problems) or run.stderr[-6000:]
    assert (html / "index.html").exists()


def _public_modules() -> list[str]:
    import limetheory

    names = ["limetheory"]
    for info in pkgutil.walk_packages(limetheory.__path__, "limetheory."):
        if not any(part.startswith("_") for part in info.name.split(".")):
            names.append(info.name)
    return names


def test_every_public_module_has_an_api_page(site):
    html, _ = site
    missing = [m for m in _public_modules() if not (html / "api" / "generated" / f"{m}.html").exists()]
    assert not missing, missing


def test_tutorials_executed(site):
    html, _ = site
    notebooks = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
    assert notebooks
    for script in notebooks:
        page = html / "tutorials" / f"{script.stem}.html"
        assert page.exists(), page
        text = page.read_text()
        assert "cell_output" in text, f"{page.name} shows no cell output"
        assert "<img" in text, f"{page.name} shows no figure"
        assert "Traceback" not in text, f"{page.name} shows a traceback"


def test_user_guide_theory_experiments_pages_built(site):
    html, _ = site
    for folder in ("user_guide", "theory", "experiments"):
        sources = [p for p in (DOCS / folder).glob("*.md")]
        assert len(sources) >= 3, folder
        for source in sources:  # the glob toctrees include every page of the folder
            assert (html / folder / f"{source.stem}.html").exists(), source


# ---------------------------------------------------------------------------------------------
# cited files


_PATH = re.compile(r"(?<![\w/.~-])((?:docs|results|benchmarks|notebooks|tests|limetheory)/[\w./-]*\w)")
_GENERATED = ("results/quick", "docs/_build", "docs/_generated", "docs/api/generated")


def _citing_files() -> list[Path]:
    files = [ROOT / "README.md", *sorted((ROOT / "limetheory").rglob("*.py")),
             *sorted((ROOT / "notebooks").glob("*")), *sorted((ROOT / "benchmarks").glob("*.py"))]
    files += [p for p in DOCS.rglob("*") if p.suffix in (".md", ".py")
              and not {"_build", "_generated", "generated"} & set(p.relative_to(DOCS).parts)]
    return [f for f in files if f.is_file()]


def cited_paths(text: str) -> set[str]:
    """Repository paths named in ``text`` (placeholders such as ``fig_<name>.py`` left out)."""
    found = set()
    for match in _PATH.finditer(text):
        path = match.group(1).rstrip(".")
        if set(text[match.end(1):match.end(1) + 2]) & set("<*{"):  # a pattern, not a file
            continue
        if path.startswith(_GENERATED) or path.endswith(".ipynb"):  # written by a build or jupytext
            continue
        found.add(path)
    return found


def test_cited_paths_parser():
    text = ("see docs/theory/limit.md, and results/full/results/x.csv; `limetheory/experiments/<name>.py`, "
            "results/bench_x.{md,json}, results/bench_y.*")
    assert cited_paths(text) == {"docs/theory/limit.md", "results/full/results/x.csv"}


def test_every_cited_file_exists():
    missing = []
    for source in _citing_files():
        for path in cited_paths(source.read_text(errors="replace")):
            if not (ROOT / path).exists():
                missing.append(f"{source.relative_to(ROOT)}: {path}")
    assert not missing, "\n".join(missing)


_SECTION = re.compile(r"(docs/theory/[\w-]+\.md),\s+\*([^*]+)\*")


def _headings(page: Path) -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^#{1,6}\s+(.+)$", page.read_text(), re.M)}


def test_cited_theory_sections_exist():
    missing = []
    for source in _citing_files() + sorted(p for p in (ROOT / "tests").glob("*.py") if p.name != "test_docs.py"):
        for page, section in _SECTION.findall(source.read_text(errors="replace")):
            if not (ROOT / page).exists() or section not in _headings(ROOT / page):
                missing.append(f"{source.relative_to(ROOT)}: {page}, *{section}*")
    assert not missing, "\n".join(missing)


def test_readme_results_generated_from_results_files():
    text = (ROOT / "README.md").read_text()
    assert results_numbers.readme_results(ROOT) in text, (
        "README.md's results block is stale: run python docs/_ext/results_numbers.py --readme")


def test_substitutions_used_in_pages_exist():
    names = set(results_numbers.substitutions(ROOT))
    used = set()
    for page in DOCS.rglob("*.md"):
        used |= set(re.findall(r"\{\{\s*(\w+)\s*\}\}", page.read_text()))
    assert used and used <= names, sorted(used - names)


def test_coverage_sentences_read_right_partial_and_complete():
    """The generated sentences on how much of a long run is committed, in both states."""
    def model(name, count):
        return {"model": name, "images": {"count": count}}

    assert results_numbers._sanity_coverage([model("a", 50), model("b", 50)], 50) == "That is the full settings' count."
    partial = results_numbers._sanity_coverage([model("a", 50), model("b", 50), model("c", 26)], 50)
    assert "a and b have them, and c (26) has fewer so far" in partial
    lite_exp4 = [{"model": "lite0", "n_images": "2"}, {"model": "lite1", "n_images": "2"}]
    done = [{"model": m} for m in ("lite0", "lite0", "lite1", "lite1")]
    assert "holds all 4 of experiment 4's" in results_numbers._decomposition_lite_coverage(done, lite_exp4)
    assert "holds 3 of experiment 4's 4 image-network pairs on these networks (2 on lite0, 1 on lite1;" in \
        results_numbers._decomposition_lite_coverage(done[:3], lite_exp4)
    assert results_numbers._span([3, 1, 2]) == "1 to 3" and results_numbers._span([0.931, 0.934], "{:.2f}") == "0.93"


# ---------------------------------------------------------------------------------------------
# no measured number typed by hand


#: Phrases that quote a measurement: a speed or cost ratio (3.7x, 4-5x, "3 times faster"), a
#: duration (0.3 s, 46 s, "about 2.7 h"), a load average, a p-value, a percentage, "about N".
_MEASURED = re.compile(
    r"(?<![\w.])\d+(?:\.\d+)?(?:\s?(?:-|to)\s?\d+(?:\.\d+)?)?x\b(?!\s?\d)"
    r"|(?<![\w.])\d+(?:\.\d+)?(?:\s?(?:-|to)\s?\d+(?:\.\d+)?)?\s(?:x|times|fold)\s"
    r"(?:faster|slower|fewer|more|less|smaller|larger)\b"
    r"|(?<![\w.])\d+(?:\.\d+)?(?:\s?(?:-|to)\s?\d+(?:\.\d+)?)?\s?(?:ms|s|min|h|hours?|seconds?|minutes?)\b"
    r"|\bload(?: average)?(?: of)?(?: about)? \d"
    r"|\bp\s?=\s?\d?\.\d"
    r"|(?<![\w.])\d+(?:\.\d+)?(?:\s?-\s?\d+(?:\.\d+)?)?\s?%"
    r"|\babout \d+(?:\.\d+)?",
    re.I)

#: Numbers of that shape which are specifications, not measurements (the level of every interval,
#: a test's tolerance, a training setting, a timeout), by page; everything else must be a
#: substitution ``{{ name }}`` computed by docs/_ext/results_numbers.py, or a generated table.
_SPECIFICATIONS = {
    "*": {"95%"},  # the confidence level of the intervals
    "docs/experiments/convergence.md": {"10-90%"},  # the band drawn in the figure
    "docs/user_guide/auto.md": {"10%"},  # what a tolerance of 0.1 means
    "docs/user_guide/designs.md": {"10%", "2x"},  # auto's pilot share and its test bound; the goal
    "docs/user_guide/gradients.md": {"4.2 %"},  # 1/n at n = 24, arithmetic
    "docs/user_guide/networks_small_cnns.md": {"10 %", "1 %", "95 %", "70 %"},  # training settings, test floors
    "docs/user_guide/refusals.md": {"about 0", "80%", "5 seconds"},  # limits the code enforces
    "docs/user_guide/shapley.md": {"10%"},  # the test's tolerance on the standard errors
}


def _prose(text: str) -> str:
    """Markdown without what may hold any number: code, maths, substitutions, the README's generated block."""
    text = re.sub(re.escape(results_numbers.README_START) + ".*?" + re.escape(results_numbers.README_END), "",
                  text, flags=re.S)
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    text = re.sub(r"^    .*$", "", text, flags=re.M)  # indented code
    text = re.sub(r"\{\{.*?\}\}", "", text)
    text = re.sub(r"`[^`\n]*`", "", text)
    text = re.sub(r"\$\$.*?\$\$", "", text, flags=re.S)
    return re.sub(r"\$[^$\n]*\$", "", text)


def typed_measurements(name: str, text: str) -> list[str]:
    """Measured numbers typed into ``text`` (page ``name``) that no specification allows."""
    allowed = _SPECIFICATIONS["*"] | _SPECIFICATIONS.get(name, set())
    found = []
    for number, line in enumerate(_prose(text).splitlines(), 1):
        found += [f"{name}:{number}: {m.group(0)!r} in {line.strip()[:100]!r}"
                  for m in _MEASURED.finditer(line) if m.group(0) not in allowed]
    return found


def _doc_pages() -> list[Path]:
    return [ROOT / "README.md"] + sorted(p for p in DOCS.rglob("*.md")
                                         if not {"_build", "_generated", "generated"} & set(p.relative_to(DOCS).parts))


def test_typed_measurements_detected():
    text = ("explain runs 3.7x faster (about 20 s on a load average of 10; p = 0.0302, 36% in experiment 4), "
            "4-5x faster, 2 to 3 times more accurate, 0.3-0.6 s per call. Kernel width 0.25, a 3 x 3 grid, "
            "`0.5 s` in code, {{ alg_busy_speedup }}x, $p = |E_-|$, 95% intervals.")
    found = [f.split(": ", 1)[1].split(" in ")[0] for f in typed_measurements("x.md", text)]
    assert found == ["'3.7x'", "'about 20'", "'load average of 1'", "'p = 0.0'", "'36%'", "'4-5x'",
                     "'2 to 3 times more'", "'0.3-0.6 s'"], found


def test_no_measured_number_typed_in_the_pages():
    found = []
    for page in _doc_pages():
        found += typed_measurements(str(page.relative_to(ROOT)), page.read_text())
    assert not found, ("measured numbers typed by hand; compute them in docs/_ext/results_numbers.py and use "
                       "{{ name }}, or allow a specification in _SPECIFICATIONS:\n" + "\n".join(found))
