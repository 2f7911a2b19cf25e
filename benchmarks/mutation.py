"""Mutation testing of the core formulas with mutmut: does the test suite notice a wrong number?

Mutates the named modules (default: llmplan/core/, llmplan/engines/, plans/breakeven.py, plans/finetune.py),
runs the tests that cover each mutant, and prints the share killed per module and the surviving mutants.
Slow (minutes per module on two cores), so not part of CI:

    pip install -e ".[test]"
    python benchmarks/mutation.py                          # the default modules
    python benchmarks/mutation.py llmplan/core/gemm.py     # one module
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ["llmplan/core/*", "llmplan/engines/*", "llmplan/plans/breakeven.py", "llmplan/plans/finetune.py"]


def run(patterns: list[str]) -> dict[str, dict[str, int]]:
    only = " ".join(f'"{p}"' for p in patterns)
    config = ROOT / "setup.cfg"
    written = not config.exists()
    if written:
        config.write_text(
            "[mutmut]\nsource_paths=llmplan\nonly_mutate=" + ",".join(patterns) + "\n"
            "also_copy=data\n    tests\n    examples\n    benchmarks\n    README.md\n    docs\n"
            "pytest_add_cli_args=-q\n    -p\n    no:cacheprovider\n"
        )
    try:
        print(f"mutmut run over {only} (this takes a while)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", "2"], cwd=ROOT, check=False)
        out = subprocess.run(
            [sys.executable, "-m", "mutmut", "results", "--all", "true"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout
    finally:
        if written:
            config.unlink()
    return summarize(out)


def summarize(results: str) -> dict[str, dict[str, int]]:
    """{module: {status: count}} from `mutmut results` lines such as `llmplan.core.gemm.x_seconds__mutmut_3: survived`."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in results.splitlines():
        m = re.match(r"\s*([\w.]+?)\.x_?\w*__mutmut_\d+:\s*(\w[\w ]*)", line)
        if m:
            counts[m.group(1)][m.group(2).strip()] += 1
    return counts


def main(patterns: list[str]) -> None:
    counts = run(patterns or DEFAULT)
    print(f"{'module':45s} {'mutants':>8s} {'killed':>7s} {'score':>7s}")
    for module, c in sorted(counts.items()):
        total = sum(c.values())
        killed = c.get("killed", 0) + c.get("timeout", 0)
        print(f"{module:45s} {total:8d} {killed:7d} {killed / max(total, 1):7.0%}")
    print("\nSurvivors: python -m mutmut results (and `python -m mutmut show NAME` for one)")


if __name__ == "__main__":
    main(sys.argv[1:])
