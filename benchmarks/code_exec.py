"""Throughput of the code-execution sandbox: programs per second by isolation level, side by side.

Workloads: ``trivial`` (``pass``: the sandbox's fixed cost per program), ``humaneval-xl`` (the canonical
solutions of HumanEval-XL Python, English, under their tests) and ``java`` (the hand-written reference
solutions of HumanEval-XL Java, English, ``tests/assets/humaneval_xl_java_solutions.jsonl``). Levels: bubblewrap,
unshare, and ``none`` (resource limits only, ``unsafe_exec=True``, the baseline the ratios are taken against).
Every program must pass; a level this machine cannot provide is reported as unavailable. ``--workers`` runs
each combination at each pool size (default: the number of cores and twice that: setting up and tearing down
namespaces waits on the kernel, so a pool larger than the core count keeps the cores busier).

    python benchmarks/code_exec.py [--levels bwrap,unshare,none] [--workloads trivial,humaneval-xl,java]
                                   [--workers 2,4] [--repeat 80] [--java-programs 40] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DATA = REPO.parent / "shared" / "data"
JAVA_SOLUTIONS = REPO / "tests" / "assets" / "humaneval_xl_java_solutions.jsonl"


def _workload(name: str, repeat: int, java_programs: int) -> list:
    from lingotune.data.code_benchmarks import load_code_problems
    from lingotune.eval.code_exec.program import Program, build_program, canonical_program

    if name == "trivial":
        return [Program("python", "pass\n", str(i)) for i in range(repeat)]
    if name == "humaneval-xl":
        return [canonical_program(p) for p in load_code_problems(DATA / "humaneval_xl_python" / "English.jsonl")]
    if name == "java":
        solutions = {json.loads(line)["task_id"]: json.loads(line)["completion"]
                     for line in JAVA_SOLUTIONS.read_text().splitlines()}
        problems = load_code_problems(DATA / "humaneval_xl_java" / "English.jsonl")[:java_programs]
        return [build_program(p, solutions[p.task_id]) for p in problems]
    raise SystemExit(f"unknown workload {name!r}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--levels", default="bwrap,unshare,none")
    parser.add_argument("--workloads", default="trivial,humaneval-xl,java")
    parser.add_argument("--workers", default=f"{os.cpu_count()},{2 * (os.cpu_count() or 1)}")
    parser.add_argument("--repeat", type=int, default=80, help="programs of the trivial workload")
    parser.add_argument("--java-programs", type=int, default=40)
    parser.add_argument("--json")
    opts = parser.parse_args()

    from lingotune.eval.code_exec.sandbox import Sandbox, SandboxUnavailableError, describe_machine

    sandboxes: dict[str, Sandbox | str] = {}
    for level in opts.levels.split(","):
        try:
            sandboxes[level] = Sandbox(level, unsafe_exec=level == "none")
        except SandboxUnavailableError as error:
            sandboxes[level] = f"unavailable: {error}"
    rows = []
    for workload in opts.workloads.split(","):
        programs = _workload(workload, opts.repeat, opts.java_programs)
        for workers in (int(w) for w in opts.workers.split(",")):
            for level, sandbox in sandboxes.items():
                if isinstance(sandbox, str):
                    rows.append({"workload": workload, "level": level, "workers": workers, "error": sandbox})
                    continue
                started = time.perf_counter()
                results = sandbox.run_many(programs, workers=workers)
                seconds = time.perf_counter() - started
                passed = sum(r.passed for r in results)
                rows.append({"workload": workload, "level": level, "workers": workers, "programs": len(programs),
                             "passed": passed, "seconds": seconds, "programs_per_s": len(programs) / seconds,
                             "mean_latency_ms": 1000 * sum(r.duration_s for r in results) / len(results)})
                print(f"{workload} {level} x{workers}: {len(programs) / seconds:.1f} programs/s "
                      f"({passed}/{len(programs)} passed)", file=sys.stderr, flush=True)
    for row in rows:
        base = next((r for r in rows if r["level"] == "none" and r["workload"] == row["workload"]
                     and r["workers"] == row["workers"] and "error" not in r), None)
        if base and "error" not in row:
            row["ratio_to_none"] = row["programs_per_s"] / base["programs_per_s"]

    print(f"machine: {describe_machine()}; load average {os.getloadavg()[0]:.1f}")
    for level, sandbox in sandboxes.items():
        print(f"  {level}: {sandbox if isinstance(sandbox, str) else sandbox.describe()}")
    print("\n| workload | isolation | workers | programs | passed | seconds | programs/s | × none | mean latency ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['workload']} | {r['level']} | {r['workers']} | — | — | — | — | — | {r['error'][:60]} |")
            continue
        ratio = f"{r['ratio_to_none']:.2f}" if "ratio_to_none" in r else "—"
        print(f"| {r['workload']} | {r['level']} | {r['workers']} | {r['programs']} | {r['passed']} | "
              f"{r['seconds']:.1f} | {r['programs_per_s']:.1f} | {ratio} | {r['mean_latency_ms']:.0f} |")
    if opts.json:
        Path(opts.json).write_text(json.dumps({"machine": describe_machine(), "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
