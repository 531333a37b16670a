"""Every example in README.md and docs/**/*.md works as written.

- The ```python blocks of each page run in order, in one namespace, in a fresh interpreter whose
  working directory is an empty temporary folder (nothing they write lands in the repository);
  an exception in any block fails the page, with the block's line number.
- Every command shown in a ```bash / ```console / ```shell block is checked: a ``limetheory ...``
  line (or ``python -m limetheory ...``) is parsed by the command's real argparse parser, so an
  option that does not exist or a value it refuses fails; ``make TARGET`` must name a Makefile
  target, ``pip install '.[EXTRA]'`` an extra of pyproject.toml, and ``python PATH`` a file of
  the repository. ``limetheory list`` runs for real.
"""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_SKIP_DIRS = {"_build", "_generated"}
PAGES = [ROOT / "README.md"] + sorted(
    p for p in (ROOT / "docs").rglob("*.md") if not _SKIP_DIRS & set(p.relative_to(ROOT / "docs").parts))
#: Seconds one page's examples may take (a loaded 2-core CI machine; they take seconds when quiet).
PAGE_TIMEOUT = 600

_FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)\n(?P<body>.*?)^(?P=indent)(?P=fence)[ \t]*$",
                    re.S | re.M)


def fenced_blocks(text: str, languages: set[str]) -> list[tuple[int, str]]:
    """(first line number, body) of every fenced block whose info string names one of ``languages``."""
    blocks = []
    for match in _FENCE.finditer(text):
        if match.group("info").strip().split(" ")[0].lower() in languages:
            blocks.append((text.count("\n", 0, match.start("body")) + 1, match.group("body")))
    return blocks


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


PYTHON_PAGES = [p for p in PAGES if fenced_blocks(p.read_text(), {"python"})]


def page_script(path: Path) -> str:
    """The page's python blocks as one script, each preceded by a marker with its line number."""
    parts = []
    for line, body in fenced_blocks(path.read_text(), {"python"}):
        parts.append(f"print('--- block at {_rel(path)}:{line}', flush=True)\n{body}")
    return "\n".join(parts)


def test_fence_parser():
    text = "a\n```python\nx = 1\n```\n\n````markdown\n```python\ny\n```\n````\n```bash\nls\n```\n"
    assert fenced_blocks(text, {"python"}) == [(3, "x = 1\n")]
    assert fenced_blocks(text, {"bash"}) == [(12, "ls\n")]


def test_every_page_found():
    names = {_rel(p) for p in PAGES}
    assert {"README.md", "docs/index.md", "docs/user_guide/getting_started.md"} <= names, names
    assert "README.md" in {_rel(p) for p in PYTHON_PAGES}


@pytest.mark.parametrize("path", PYTHON_PAGES, ids=[_rel(p) for p in PYTHON_PAGES])
def test_python_examples_run(path: Path, tmp_path: Path):
    script = tmp_path / "page_examples.py"
    script.write_text(page_script(path))
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               MPLBACKEND="Agg")
    run = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=PAGE_TIMEOUT)
    if run.returncode != 0:
        markers = [line for line in run.stdout.splitlines() if line.startswith("--- block at ")]
        where = markers[-1][len("--- block at "):] if markers else _rel(path)
        pytest.fail(f"the example at {where} failed:\n{run.stderr[-4000:]}", pytrace=False)


# ---------------------------------------------------------------------------------------------
# commands


def _command_lines(path: Path):
    for line, body in fenced_blocks(path.read_text(), {"bash", "console", "shell", "sh"}):
        for offset, raw in enumerate(body.splitlines()):
            text = raw.strip()
            if text.startswith("$ "):
                text = text[2:]
            if not text or text.startswith("#"):
                continue
            try:
                words = shlex.split(text, comments=True)
            except ValueError:
                words = text.split()
            if words:
                yield f"{_rel(path)}:{line + offset}", words


COMMANDS = [(where, words) for p in PAGES for where, words in _command_lines(p)]


def _limetheory_argv(words: list[str]) -> list[str] | None:
    for start, word in enumerate(words):
        if Path(word).name == "limetheory" and (start == 0 or words[start - 1] != "-m"):
            return words[start + 1:]
        if word == "-m" and start + 1 < len(words) and words[start + 1] == "limetheory":
            return words[start + 2:]
    return None


def _make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w-]*):", (ROOT / "Makefile").read_text(), re.M))


def _extras() -> set[str]:
    return set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"])


def check_command(words: list[str]) -> str | None:
    """None if the command is valid for this repository, else what is wrong with it."""
    argv = _limetheory_argv(words)
    if argv is not None:
        from limetheory.cli import build_parser

        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:
            return f"limetheory's parser refuses {argv} (exit status {exc.code})"
        return None
    if words[0] == "make":
        missing = [t for t in words[1:] if "=" not in t and t not in _make_targets()]
        return f"no Makefile target {missing}" if missing else None
    if words[:2] == ["pip", "install"] or words[1:3] == ["-m", "pip"]:
        for extra in re.findall(r"\[([\w,-]+)\]", " ".join(words)):
            unknown = set(extra.split(",")) - _extras()
            if unknown:
                return f"pyproject.toml has no extra {sorted(unknown)}"
        return None
    if Path(words[0]).name.startswith("python") and len(words) > 1 and words[1].endswith(".py"):
        return None if (ROOT / words[1]).exists() else f"{words[1]} does not exist"
    return None


def test_check_command_catches_mistakes():
    assert check_command(["limetheory", "explain", "x.png", "--n-samples", "auto"]) is None
    assert check_command(["limetheory", "explain", "x.png", "--no-such-option"]) is not None
    assert check_command(["limetheory", "reproduce", "--only", "no_such_experiment"]) is not None
    assert check_command(["make", "no-such-target"]) is not None
    assert check_command(["pip", "install", ".[no-such-extra]"]) is not None
    assert check_command(["python", "benchmarks/no_such_bench.py"]) is not None


@pytest.mark.parametrize("where,words", COMMANDS, ids=[w for w, _ in COMMANDS])
def test_command_is_valid(where: str, words: list[str]):
    problem = check_command(words)
    assert problem is None, f"{where}: `{shlex.join(words)}`: {problem}"


def test_limetheory_list_runs():
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", "import sys; from limetheory.cli import main; sys.exit(main())",
                          "list"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert "convergence" in run.stdout
