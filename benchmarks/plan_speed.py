"""Time `llmplan plan` on issue 23's example over the whole catalog, as a user runs it (a whole process).

Goal: under 2 s on a 2-core machine. Run: python benchmarks/plan_speed.py [RUNS]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

COMMAND = [
    sys.executable,
    "-m",
    "llmplan",
    "plan",
    "meta-llama/Llama-3.1-8B-Instruct",
    "--requests-per-s",
    "5",
    "--input-tokens",
    "1024",
    "--output-tokens",
    "256",
    "--max-ttft-s",
    "1",
    "--min-tokens-per-s",
    "30",
    "--format",
    "json",
]


def main(runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(COMMAND, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(
        f"llmplan plan (whole catalog): median {median:.2f} s of {runs} runs "
        f"(min {min(times):.2f}, max {max(times):.2f}); goal < 2 s"
    )
    return median


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
