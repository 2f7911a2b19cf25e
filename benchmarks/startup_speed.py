"""How long `llmplan fit` takes against the import floor (typer, rich, pydantic, yaml, numpy).

    python benchmarks/startup_speed.py [--runs 7]

Runs each command as a whole process several times (after one warm-up that also fills the catalog
cache and writes byte code) and prints the medians and their ratio. The goal is a ratio of at most 2.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

FIT = [sys.executable, "-m", "llmplan", "fit", "llama-3.1-8b-instruct", "--gpu", "rtx-4090", "--quant", "q4_k_m"]
FLOOR = [sys.executable, "-c", "import typer, rich, pydantic, yaml, numpy"]


def median_wall_s(cmd: list[str], runs: int, env: dict[str, str]) -> float:
    subprocess.run(cmd, check=True, capture_output=True, env=env)  # warm-up: caches and byte code
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, env=env)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}  # as an installed package runs
    fit_s = median_wall_s(FIT, args.runs, env)
    floor_s = median_wall_s(FLOOR, args.runs, env)
    print(f"llmplan fit : {fit_s * 1000:7.1f} ms (median of {args.runs})")
    print(f"import floor: {floor_s * 1000:7.1f} ms (typer, rich, pydantic, yaml, numpy)")
    print(f"ratio       : {fit_s / floor_s:7.2f} (goal: at most 2)")


if __name__ == "__main__":
    main()
