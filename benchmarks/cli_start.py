"""How long the command line takes to answer a typed question, from a fresh process each time.

Runs ``python -m oracle ask --text QUESTION`` ``--runs`` times (default 5), each a new process, after one
uncounted run that fills the proverb vector cache (``~/.cache/magic8ball``) as any first run does. Prints
each run's wall time and CPU time (user + system of the child process), then their medians, with the CPU
core count and the load average (a busy machine stretches the wall time, not the CPU time).
Target: a median wall time of at most 2 s on an idle 2-core machine.

    .venv/bin/python benchmarks/cli_start.py [--runs 5] [--question "..."] [--repo PATH]

``--repo`` times another checkout (e.g. the one before a change) with the same Python.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT_S = 300


def children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ask_once(question: str, repo: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one fresh ``python -m oracle ask --text``."""
    cpu_before = children_cpu_s()
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "oracle", "ask", "--text", question], cwd=repo,
                            capture_output=True, text=True, timeout=TIMEOUT_S)
    wall = time.perf_counter() - start
    if result.returncode != 0 or "The oracle says:" not in result.stdout:
        sys.exit(f"the command failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    return wall, children_cpu_s() - cpu_before


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--question", default="Should I take the new job?")
    parser.add_argument("--repo", type=Path, default=ROOT, help="the checkout to time (default: this one)")
    args = parser.parse_args()

    ask_once(args.question, args.repo)  # fills the vector cache, like any first run
    walls, cpus = [], []
    for run in range(1, args.runs + 1):
        wall, cpu = ask_once(args.question, args.repo)
        walls.append(wall)
        cpus.append(cpu)
        print(f"run {run}: {wall:.2f} s wall, {cpu:.2f} s CPU")
    print(f"{args.repo}: python -m oracle ask --text {args.question!r}")
    print(f"median of {args.runs} fresh runs: {statistics.median(walls):.2f} s wall, "
          f"{statistics.median(cpus):.2f} s CPU  ({os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())})")


if __name__ == "__main__":
    main()
