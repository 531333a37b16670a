"""Mutation testing of the core modules: do the tests catch small plausible bugs?

A small AST mutator (the operators of mutmut: comparison, arithmetic, boolean and unary operators
swapped, numbers changed by one, True/False swapped, a keyword argument dropped from a call) makes
one mutant per site in the listed functions of each core module. Each mutant runs the tests that
target its module (``pytest -x``): a failing test kills it; a mutant whose tests all pass survives;
one that runs past its time limit counts as killed by timeout (an infinite loop is caught).

To avoid paying Python's and NumPy's start-up per mutant, a parent process imports the package and
pytest once and forks a child per mutant; the child swaps the function's code object (``__code__``
and its defaults, so every reference to the function sees the mutant) and runs pytest. A baseline
run of every module's tests without mutation must pass first.

Writes ``results/mutation_testing.json`` (every mutant: module, function, line, change, outcome,
seconds) and a per-module summary table to stdout; the committed report
``results/mutation_testing.md`` quotes it with the analysis of every survivor.

Usage::

    nice -n 10 python benchmarks/mutation_testing.py [--modules kernel,metrics] [--budget-s 3600]
        [--list] [--out results/mutation_testing.json]
        [--survivors-of EARLIER.json] [--unrun-of EARLIER.json]   # rerun some; keep the other outcomes
    python benchmarks/mutation_testing.py --summary            # the per-module and survivor tables

(run from the repository root, with ``PYTHONPATH=.``). The run is sequential: one mutant at a time.
"""
from __future__ import annotations

import argparse
import ast
import copy
import importlib
import inspect
import json
import os
import platform
import signal
import sys
import textwrap
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: module key -> (module, functions to mutate (qualified names), pytest arguments selecting the tests that
#: target them). On 2 shared cores every mutant costs 10-90 s, so the list holds each core module's
#: central functions and the tests that exercise them; the report names what is not mutated.
TARGETS = {
    "metrics": ("limetheory.metrics", ["top_k", "jaccard", "jaccard_topk"],
                ["tests/test_metrics.py"]),
    "stopping": ("limetheory.stopping", ["round_level", "separated", "StoppingRule.schedule"],
                 ["tests/test_stopping.py", "-k", "schedule or separated or tie or constant or levels"]),
    "kernel": ("limetheory.kernel", ["kernel_log", "log_weighted_law_zeros", "weighted_law"],
               ["tests/test_explain.py::test_kernel_weights_are_limes", "tests/test_theory.py",
                "-k", "kernel_weights or alpha_equals_enumeration or weighted_law or limes"]),
    "gradients": ("limetheory.gradients", ["quadrature"],
                  ["tests/test_gradients.py", "-k", "quadrature or gauss"]),
    "surrogate": ("limetheory.surrogate", ["_weighted_centre", "fit_weighted_ridge", "_fit"],
                  ["tests/test_explain.py", "tests/test_bad_input.py", "-k",
                   "surrogate or ridge_zero or constant or bad_input_is_refused"]),
    "sampling": ("limetheory.sampling",
                 ["kernel_weights", "cosine_distance_to_ones", "bernoulli_samples", "samples_with_ones",
                  "weighted_samples"],
                 ["tests/test_sampling.py", "tests/test_explain.py", "tests/test_uncertainty.py",
                  "tests/test_theory.py", "tests/test_bad_input.py", "-k", "sampling or kernel_weights or limes "
                  "or seed or weighted_samples or weighted_law or bad_input_is_refused"]),
    "perturb": ("limetheory.perturb", ["perturb_batch", "_pixel_view"],
                ["tests/test_explain.py", "-k", "perturb"]),
    # theory is a package: its core functions, module by module (the closed form of the limit, Sigma
    # and its inverse, exact enumeration, the games)
    "theory": ("limetheory.theory.limit", ["limit_explanation"],
               ["tests/test_theory.py", "-k", "(mpmath or enumeration or brute or limit_explanation) and not 2000 and not 10000"]),
    "theory.normalized": ("limetheory.theory._normalized", ["_normalized", "beta_normalized", "interpolation_limit"],
                          ["tests/test_theory.py", "-k", "(mpmath or enumeration or brute or sigma or interpolation or d1 "
                           "or singular or never_nan or limit_explanation or small_widths or ridge_bias or warn_about_nothing) "
                           "and not 2000 and not 10000"]),
    "theory.gram": ("limetheory.theory.gram", ["sigma", "sigma_inverse"],
                    ["tests/test_theory.py", "-k", "(sigma or d1 or scaled or out_of_range) and not 2000 and not 10000"]),
    "theory.enumeration": ("limetheory.theory.moments", ["enumerated_sums"],
                           ["tests/test_theory.py", "-k", "brute or enumeration or once_per_pattern or "
                            "several_classes or response_table"]),
    "theory.patterns": ("limetheory.theory.enumeration", ["all_patterns", "pattern_index"],
                        ["tests/test_theory.py", "tests/test_games.py", "-k", "brute or enumeration or "
                         "response_table or shapley_equals"]),
    "theory.games": ("limetheory.theory.games", ["shapley_weights", "semivalue", "exact_occlusion",
                                                  "one_off_responses"],
                     ["tests/test_games.py"]),
}

#: Imported by the parent before the forks (the test modules' heavy dependencies; nothing that starts
#: threads at import).
PRELOAD = ("scipy.stats", "scipy.linalg", "scipy.special", "mpmath", "hypothesis", "sklearn.metrics",
           "sklearn.linear_model", "lime.lime_image", "lime.lime_base", "limetheory.theory", "limetheory.analytic")

_SWAPS = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq, ast.Is: ast.IsNot, ast.IsNot: ast.Is, ast.In: ast.NotIn, ast.NotIn: ast.In,
    ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult, ast.FloorDiv: ast.Div,
    ast.Pow: ast.Mult, ast.Mod: ast.FloorDiv, ast.BitAnd: ast.BitOr, ast.BitOr: ast.BitAnd,
    ast.And: ast.Or, ast.Or: ast.And,
}


@dataclass
class Mutant:
    module: str
    function: str
    line: int
    change: str
    outcome: str = "not run"
    seconds: float = 0.0
    source: str = ""  # the changed line as written (stripped): with function and change, the mutant's identity
    occurrence: int = 0  # the n-th mutant of the function with the same change and source line (0, 1, ...)
    first_pass: str | None = None  # the outcome before a later rerun changed it (e.g. "survived")
    started: str = ""  # UTC time the mutant's run started
    load_1min: float | None = None  # the machine's 1-minute load average then


def identity(m) -> tuple:
    """What names a mutant across edits elsewhere in its file: line numbers move, this does not."""
    get = (lambda k: m[k]) if isinstance(m, dict) else (lambda k: getattr(m, k))
    return (get("module"), get("function"), get("change"), get("source"), get("occurrence"))


def _number_occurrences(mutants) -> None:
    seen = {}
    for m in mutants:
        key = (m.module, m.function, m.change, m.source)
        m.occurrence = seen.get(key, 0)
        seen[key] = m.occurrence + 1


def _skipped_nodes(func: ast.AST) -> set:
    """Nodes never mutated: the docstring, messages (f-strings, raise statements), decorators, annotations."""
    skip = set()
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        skip.update(map(id, ast.walk(body[0])))
    for node in ast.walk(func):
        if isinstance(node, (ast.Raise, ast.JoinedStr)):
            skip.update(map(id, ast.walk(node)))
    for dec in getattr(func, "decorator_list", []):
        skip.update(map(id, ast.walk(dec)))
    # annotations (`float | None`): never evaluated under `from __future__ import annotations`
    for node in ast.walk(func):
        for ann in (getattr(node, "annotation", None), getattr(node, "returns", None)):
            if ann is not None:
                skip.update(map(id, ast.walk(ann)))
    return skip


def mutation_sites(func: ast.AST) -> list:
    """Every (path, description) of a single change in ``func``: path locates the node to change."""
    skip = _skipped_nodes(func)
    sites = []
    for node in ast.walk(func):
        if id(node) in skip:
            continue
        line = getattr(node, "lineno", func.lineno)
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in _SWAPS:
                    sites.append((node, ("cmp", i), line, f"{type(op).__name__} -> {_SWAPS[type(op)].__name__}"))
        elif isinstance(node, (ast.BinOp, ast.AugAssign, ast.BoolOp)):
            if type(node.op) in _SWAPS:
                sites.append((node, ("op",), line, f"{type(node.op).__name__} -> {_SWAPS[type(node.op)].__name__}"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.Not, ast.USub)):
            sites.append((node, ("unary",), line, f"drop {type(node.op).__name__}"))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
            new = (not node.value) if isinstance(node.value, bool) else node.value + 1
            sites.append((node, ("const", new), line, f"{node.value!r} -> {new!r}"))
        elif isinstance(node, ast.Call):
            for i, kw in enumerate(node.keywords):
                if kw.arg is not None:
                    sites.append((node, ("dropkw", i), line, f"drop keyword {kw.arg}="))
    return sites


class _Apply(ast.NodeTransformer):
    def __init__(self, target_id: int, action: tuple):
        self.target_id, self.action = target_id, action

    def generic_visit(self, node):
        node = super().generic_visit(node)
        if getattr(node, "_mut_id", None) != self.target_id:
            return node
        kind = self.action[0]
        if kind == "cmp":
            node.ops[self.action[1]] = _SWAPS[type(node.ops[self.action[1]])]()
        elif kind == "op":
            node.op = _SWAPS[type(node.op)]()
        elif kind == "unary":
            return node.operand
        elif kind == "const":
            node.value = self.action[1]
        elif kind == "dropkw":
            del node.keywords[self.action[1]]
        return node


def find_function(tree: ast.Module, qualname: str) -> ast.AST:
    scope = tree
    for part in qualname.split("."):
        scope = next(n for n in scope.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name == part)
    return scope


def live_function(module, qualname: str):
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return inspect.unwrap(obj)


def mutants_of(module_name: str, qualname: str) -> list:
    """(Mutant, mutated FunctionDef) for every site of the function."""
    source = inspect.getsource(importlib.import_module(module_name))
    return mutants_of_source(module_name, qualname, source)


def mutants_of_source(module_name: str, qualname: str, source: str) -> list:
    """:func:`mutants_of` for the given text of the module (e.g. an earlier commit's)."""
    lines = source.splitlines()
    func = find_function(ast.parse(source), qualname)
    for i, n in enumerate(ast.walk(func)):
        n._mut_id = i
    out = []
    for node, action, line, desc in mutation_sites(func):
        mutated = _Apply(node._mut_id, action).visit(copy.deepcopy(func))
        mutated.decorator_list = []
        out.append((Mutant(module_name, qualname, line, desc, source=lines[line - 1].strip()), mutated))
    _number_occurrences([m for m, _ in out])
    return out


def install(module_name: str, qualname: str, mutated: ast.FunctionDef) -> None:
    """Swap the live function's code and defaults for those of ``mutated`` (in this process only)."""
    module = importlib.import_module(module_name)
    tree = ast.Module(body=[mutated], type_ignores=[])
    ast.fix_missing_locations(tree)
    namespace = dict(vars(module))
    exec(compile(tree, module.__file__, "exec", flags=annotations_flag(), dont_inherit=True), namespace)
    new = namespace[mutated.name]
    live = live_function(module, qualname)
    live.__code__ = new.__code__
    live.__defaults__ = new.__defaults__
    live.__kwdefaults__ = new.__kwdefaults__
    _refresh_captured_signatures(module, qualname, live)


def _refresh_captured_signatures(module, qualname: str, live) -> None:
    """A decorator that bound the arguments with a signature it captured once (``validate_params``
    applies the defaults from it) would hide a mutated default: give it the mutant's signature."""
    obj = module
    for part in qualname.split("."):
        obj = getattr(obj, part)
    while hasattr(obj, "__wrapped__"):
        code, closure = getattr(obj, "__code__", None), getattr(obj, "__closure__", None)
        if code is not None and closure:
            for name, cell in zip(code.co_freevars, closure):
                if isinstance(cell.cell_contents, inspect.Signature):
                    cell.cell_contents = inspect.signature(live)
        obj = obj.__wrapped__


def annotations_flag() -> int:
    import __future__
    return __future__.annotations.compiler_flag


def run_in_child(tests: list, timeout_s: float, setup=None) -> tuple[str, float]:
    """Fork; the child applies ``setup`` and runs pytest on ``tests``. Returns (outcome, seconds)."""
    t0 = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child
        try:
            os.setpgid(0, 0)
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            if setup is not None:
                setup()
            import pytest
            rc = pytest.main(["-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", *tests])
            os._exit(int(rc))
        except BaseException:
            os._exit(99)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - t0 > timeout_s:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", time.monotonic() - t0
        time.sleep(0.2)
    rc = os.waitstatus_to_exitcode(status)
    outcome = {0: "survived", 1: "killed"}.get(rc, f"error (exit {rc})")
    return outcome, time.monotonic() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", default=",".join(TARGETS), help="comma-separated keys of TARGETS")
    parser.add_argument("--budget-s", type=float, default=3600.0, help="stop starting mutants after this")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--survivors-of", default=None, metavar="JSON",
                        help="run only the mutants that survived in this earlier result file; the other "
                             "outcomes of --out are kept")
    parser.add_argument("--unrun-of", default=None, metavar="JSON",
                        help="run only the mutants with no outcome in this earlier result file (new code, "
                             "or not run in time); with --survivors-of, both sets")
    parser.add_argument("--out", default=str(ROOT / "results" / "mutation_testing.json"))
    parser.add_argument("--summary", action="store_true", help="print the tables of --out and exit")
    args = parser.parse_args(argv)
    if args.summary:
        records = json.loads(Path(args.out).read_text())["mutants"]
        print(summary_table(records))
        print()
        print(survivors_table(records))
        return 0
    keys = [k.strip() for k in args.modules.split(",") if k.strip()]
    unknown = sorted(set(keys) - set(TARGETS))
    if unknown:
        parser.error(f"--modules: unknown {unknown}; choose from {sorted(TARGETS)}")

    os.chdir(ROOT)
    import numpy  # noqa: F401  (imported once, before the forks)
    import pytest  # noqa: F401
    for key in keys:
        importlib.import_module(TARGETS[key][0])
    for name in PRELOAD:  # what the test modules import, once, so that a mutant's child does not pay for it
        try:
            importlib.import_module(name)
        except ImportError:
            pass

    out_path = Path(args.out)
    previous = json.loads(out_path.read_text()) if out_path.exists() else {"mutants": [], "baselines": {}}
    # every mutant is made now, from the source of the modules this process imported
    plans = {key: [pair for f in TARGETS[key][1] for pair in mutants_of(TARGETS[key][0], f)] for key in keys}
    selective = bool(args.survivors_of or args.unrun_of)
    # kept from --out: the other modules' records, and (when only some mutants are rerun) this run's
    # modules' records of mutants that still exist, their line numbers brought up to date
    current = {identity(m): m for v in plans.values() for m, _ in v}
    records, stale = [], 0
    for r in previous["mutants"]:
        if r["module"] not in {TARGETS[k][0] for k in keys}:
            records.append(r)
        elif selective and identity(r) in current:
            records.append({**r, "line": current[identity(r)].line})
        elif selective:
            stale += 1
    if stale:
        print(f"dropped {stale} records of mutants that no longer exist (their code changed)", flush=True)
    baselines = {k: v for k, v in previous.get("baselines", {}).items() if k not in keys or selective}
    if selective:
        chosen = set()
        if args.survivors_of:
            chosen |= {identity(m) for m in json.loads(Path(args.survivors_of).read_text())["mutants"]
                       if m["outcome"] == "survived"}
        if args.unrun_of:
            done = {identity(m) for m in json.loads(Path(args.unrun_of).read_text())["mutants"]
                    if m["outcome"] in ("killed", "survived", "timeout")}
            chosen |= {i for i in current if i not in done}
        plans = {k: [(m, f) for m, f in v if identity(m) in chosen] for k, v in plans.items()}
        before = {identity(r): r for r in records}
        records = [r for r in records if identity(r) not in chosen]
        for v in plans.values():
            for m, _ in v:
                old = before.get(identity(m))
                if old is not None:
                    m.first_pass = old.get("first_pass") or old["outcome"]
    start = time.monotonic()
    for key in keys:
        module_name, functions, tests = TARGETS[key]
        todo = plans[key]
        if args.list:
            for m, _ in todo:
                print(f"{key} {m.function} L{m.line}: {m.change}")
            continue
        if not todo:
            print(f"[{key}] nothing to run", flush=True)
            continue
        outcome, seconds = run_in_child(tests, timeout_s=1800.0)
        baselines[key] = {"outcome": outcome, "seconds": round(seconds, 1), "tests": tests}
        print(f"[{key}] baseline: {outcome} in {seconds:.0f} s, {len(todo)} mutants", flush=True)
        if outcome != "survived":
            print(f"[{key}] the unmutated tests do not pass; skipping the module", flush=True)
            continue
        limit = max(3 * seconds, seconds + 60)
        for m, mutated in todo:
            if time.monotonic() - start > args.budget_s:
                m.outcome = "not run (budget)"
            else:
                m.started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                m.load_1min = round(os.getloadavg()[0], 2)
                m.outcome, m.seconds = run_in_child(
                    tests, limit, setup=lambda m=m, mutated=mutated: install(m.module, m.function, mutated))
                m.seconds = round(m.seconds, 1)
            print(f"[{key}] {m.function} L{m.line} {m.change}: {m.outcome} ({m.seconds:.0f} s)", flush=True)
            rec = asdict(m)
            if rec["first_pass"] is None or rec["first_pass"] == rec["outcome"]:
                del rec["first_pass"]
            records.append(rec)
            _write(out_path, records, baselines)
    if not args.list:
        _write(out_path, records, baselines)
        print(summary_table(records))
        print()
        print(survivors_table(records))
    return 0


def _write(path: Path, records: list, baselines: dict) -> None:
    payload = {
        "conditions": {"machine": platform.platform(), "python": platform.python_version(),
                       "cpus": os.cpu_count(), "load_1min": round(os.getloadavg()[0], 2)},
        "baselines": baselines,
        "mutants": records,
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=1))
    tmp.replace(path)


def survivors_table(records: list) -> str:
    """Markdown table of the surviving mutants (module, function, line, change, the line's code)."""
    lines = ["| module | function | line | change | code |", "|---|---|---|---|---|"]
    for r in records:
        if r["outcome"] == "survived":
            lines.append(f"| {r['module']} | {r['function']} | {r['line']} | {r['change']} | `{r.get('source', '')}` |")
    return "\n".join(lines)


def summary_table(records: list) -> str:
    """Markdown table per module: mutants, killed (by a test / by timeout), survivors before the tests a
    rerun added (``first_pass``) and now, not run."""
    rows = {}
    for r in records:
        row = rows.setdefault(r["module"], {"functions": [], "killed": 0, "timeout": 0, "survived": 0, "other": 0,
                                            "first": 0})
        if r["function"] not in row["functions"]:
            row["functions"].append(r["function"])
        key = r["outcome"] if r["outcome"] in ("killed", "timeout", "survived") else "other"
        row[key] += 1
        row["first"] += r["outcome"] == "survived" or r.get("first_pass") == "survived"
    lines = ["| module | functions mutated | mutants | killed | killed by timeout | survived before the "
             "added tests | survived now | not run |", "|---|---|---|---|---|---|---|---|"]
    for mod, c in rows.items():
        total = c["killed"] + c["timeout"] + c["survived"] + c["other"]
        lines.append(f"| {mod.replace('limetheory.', '')} | {', '.join(c['functions'])} | {total} | {c['killed']} | "
                     f"{c['timeout']} | {c['first']} | {c['survived']} | {c['other']} |")
    return "\n".join(lines)

if __name__ == "__main__":
    sys.exit(main())
