"""Benchmark: ``lowdose demo`` from scratch (empty projector cache, empty folder), then again on the same folder.

Prints the first-run time (including building the projector's system matrices), the rerun time
(everything reused) and their ratio; targets: first run under 5 minutes on 2 cores, rerun under
20 % of it. Each run is its own ``lowdose`` process, timed from start to exit (imports included);
its CPU time (user + system, all its processes) is printed too, as wall time on a shared machine
says little.

    python Testing/benchmarks/bench_demo.py [--geometry clinical|fast] [--workers N] [--keep DIR]

(without --workers, the demo's default number of worker processes)
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_paths import PATHS

FIRST_RUN_TARGET_S = 300.0
RERUN_SHARE_TARGET = 0.2


def run_demo(output: Path, cache: Path, geometry: str, workers) -> tuple[float, float]:
    """Wall and CPU seconds of one ``lowdose demo`` process (its progress lines go to a log beside the study)."""
    environment = dict(os.environ, LOWDOSE_MATRIX_CACHE=str(cache), PYTHONPATH=os.pathsep.join(
        [*map(str, PATHS), os.environ.get("PYTHONPATH", "")]))
    workers_option = [] if workers is None else ["--workers", str(workers)]
    command = [sys.executable, "-c", "import sys; from LowDoseRobustnessLib.cli import main; sys.exit(main())",
               "demo", "-o", str(output), "--geometry", geometry, *workers_option]
    cpu_before = _children_cpu_s()
    start = time.perf_counter()
    with open(output.parent / f"{output.name}.log", "a") as log:
        subprocess.run(command, env=environment, stdout=log, stderr=subprocess.STDOUT, check=True)
    return time.perf_counter() - start, _children_cpu_s() - cpu_before


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--geometry", default="clinical", choices=("clinical", "fast"))
    parser.add_argument("--workers", type=int)
    parser.add_argument("--keep", help="write the study here (default: a temporary folder)")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_demo_") as scratch:
        scratch = Path(scratch)
        output = Path(arguments.keep) if arguments.keep else scratch / "demo_output"
        output.parent.mkdir(parents=True, exist_ok=True)
        first = run_demo(output, scratch / "matrix_cache", arguments.geometry, arguments.workers)
        second = run_demo(output, scratch / "matrix_cache", arguments.geometry, arguments.workers)
    workers = "the demo's default" if arguments.workers is None else arguments.workers
    print(f"lowdose demo ({arguments.geometry} geometry, workers: {workers}, {os.cpu_count()} cores)")
    (first, first_cpu), (second, second_cpu) = first, second
    print(f"first run (empty projector cache): {first:6.1f} s wall, {first_cpu:6.1f} s CPU   target < "
          f"{FIRST_RUN_TARGET_S:.0f} s: {'met' if first < FIRST_RUN_TARGET_S else 'MISSED'}")
    print(f"second run (same folder):          {second:6.1f} s wall, {second_cpu:6.1f} s CPU   ratio "
          f"{second / first:.1%}, target < {RERUN_SHARE_TARGET:.0%}: "
          f"{'met' if second < RERUN_SHARE_TARGET * first else 'MISSED'}")


if __name__ == "__main__":
    main()
