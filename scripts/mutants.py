"""Mutation testing of the algorithm modules with mutmut (``make mutants``; docs/testing.md).

For each module of ``MODULES`` the project is copied to a scratch folder, mutmut is told to
mutate that one file and to run only the test files that cover it, and mutmut's own test
selection (the tests that reach the mutated function) runs each mutant. A module gets a
wall-clock budget; mutants left unchecked when it runs out are reported as such, never as
killed. The table gives, per module: mutants, checked, killed, survived, kill rate over the
checked ones.

    python scripts/mutants.py                      # every module, the budget per module below
    python scripts/mutants.py --modules darts nb201 --budget 300
    python scripts/mutants.py --json               # one JSON object
    python scripts/mutants.py --survivors darts    # list the survivors of the last run of a module
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRATCH = Path(os.environ.get("NASBOOK_MUTANTS", Path(tempfile.gettempdir()) / "nasbook-mutants"))

#: short name -> (the module mutated, the test files that check it)
MODULES = {
    "engine": ("nasbook/engine/trainer.py", ["tests/engine/test_engine_trainer.py"]),
    "nb201": ("nasbook/spaces/nb201.py", ["tests/spaces/test_nb201.py", "tests/spaces/test_nb201_reference.py"]),
    "nb201_ops": ("nasbook/ops/nb201_ops.py", ["tests/spaces/test_nb201_reference.py"]),
    "cell_ops": ("nasbook/ops/cell_ops.py", ["tests/spaces/test_darts_space.py", "tests/spaces/test_nb201_reference.py"]),
    "darts": ("nasbook/methods/darts.py", ["tests/methods/darts/test_darts_search.py", "tests/methods/darts/test_darts_entrannas_steps.py"]),
    "entrannas_relaxation": ("nasbook/methods/entrannas/relaxation.py",
                             ["tests/methods/entrannas/test_entrannas.py", "tests/methods/darts/test_darts_entrannas_steps.py"]),
    "entrannas_method": ("nasbook/methods/entrannas/method.py",
                         ["tests/methods/darts/test_darts_entrannas_steps.py", "tests/engine/test_engine_trainer.py"]),
    "fewshot_evolution": ("nasbook/methods/fewshot_nl/evolution.py", ["tests/methods/fewshot_nl/test_fewshot_steps.py"]),
    "fewshot_method": ("nasbook/methods/fewshot_nl/method.py", ["tests/methods/fewshot_nl/test_fewshot_steps.py"]),
    "metakernels_blocks": ("nasbook/methods/metakernels/blocks.py",
                           ["tests/methods/metakernels/test_metakernels_steps.py", "tests/methods/metakernels/test_metakernels.py"]),
    "metakernels_kernels": ("nasbook/methods/metakernels/kernels.py", ["tests/methods/metakernels/test_metakernels.py"]),
    "mgas_loss": ("nasbook/methods/mgas/loss.py", ["tests/methods/mgas/test_mgas_units.py", "tests/methods/mgas/test_mgas_structure.py"]),
    "nse_pareto": ("nasbook/methods/nse/pareto.py", ["tests/methods/nse/test_nse_state.py"]),
}


def _config(module: str, tests: list[str]) -> str:
    return ("\n[tool.mutmut]\n"
            'source_paths = ["nasbook"]\n'
            f'only_mutate = ["{module}"]\n'
            f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
            'pytest_add_cli_args = ["-p", "no:cacheprovider", "-x", "-q"]\n')


def _results(work: Path, mutmut: str) -> dict[str, str]:
    out = subprocess.run([mutmut, "results", "--all", "true"], cwd=work, capture_output=True, text=True).stdout
    status = {}
    for line in out.splitlines():
        name, sep, st = line.strip().rpartition(": ")
        if sep:
            status[name] = st.strip()
    return status


def run_module(name: str, budget: float, mutmut: str) -> dict:
    module, tests = MODULES[name]
    work = SCRATCH / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True,
                           text=True, check=True).stdout.split()
    for f in files:
        src = REPO / f
        if src.is_file():
            (work / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, work / f)
    with open(work / "pyproject.toml", "a") as fh:
        fh.write(_config(module, tests))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MPLBACKEND": "Agg"}
    env.setdefault("NASBOOK_NB201", str(REPO.parent / "shared" / "data" / "nasbench201"))
    t0 = time.perf_counter()
    log = open(work / "mutmut.log", "w")
    proc = subprocess.Popen([mutmut, "run", "--max-children", "2"], cwd=work, env=env, stdout=log, stderr=log)
    try:
        proc.wait(timeout=budget)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    status = _results(work, mutmut)
    counts = {k: sum(1 for s in status.values() if s == k) for k in ("killed", "survived", "timeout", "not checked")}
    checked = counts["killed"] + counts["survived"] + counts["timeout"]
    killed = counts["killed"] + counts["timeout"]  # a mutant that hangs the tests is caught by them
    return {"module": module, "mutants": len(status), "checked": checked, "killed": killed,
            "survived": counts["survived"], "unchecked": counts["not checked"],
            "kill_rate": killed / checked if checked else None, "seconds": round(time.perf_counter() - t0, 1),
            "survivors": sorted(n for n, s in status.items() if s == "survived")}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--modules", nargs="*", default=list(MODULES), help=f"short names: {', '.join(MODULES)}")
    ap.add_argument("--budget", type=float, default=240.0, help="seconds per module (default 240: ~55 min in all)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--survivors", metavar="MODULE", help="list the survivors (with diffs) of MODULE's last run")
    args = ap.parse_args(argv)
    mutmut = shutil.which("mutmut") or str(Path(sys.executable).with_name("mutmut"))
    if args.survivors:
        work = SCRATCH / args.survivors
        for n, s in sorted(_results(work, mutmut).items()):
            if s == "survived":
                print(subprocess.run([mutmut, "show", n], cwd=work, capture_output=True, text=True).stdout)
        return 0
    unknown = [m for m in args.modules if m not in MODULES]
    if unknown:
        ap.error(f"unknown module(s) {unknown}; known: {', '.join(MODULES)}")
    rows = []
    for name in args.modules:
        rows.append({"name": name, **run_module(name, args.budget, mutmut)})
        if not args.json:
            r = rows[-1]
            rate = "-" if r["kill_rate"] is None else f"{100 * r['kill_rate']:.1f}%"
            print(f"{name:22s} {r['mutants']:5d} mutants  {r['checked']:5d} checked  {r['killed']:5d} killed  "
                  f"{r['survived']:4d} survived  {r['unchecked']:4d} unchecked  {rate:>7s}  {r['seconds']:6.0f} s",
                  flush=True)
    if args.json:
        print(json.dumps({"modules": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
