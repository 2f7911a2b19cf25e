"""The package as a user gets it: data found from a checkout and from a wheel, a fast start, a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_help_imports_nothing_heavy():
    code = (
        "import sys, llmplan.cli; heavy = [m for m in ('numpy', 'pandas', 'huggingface_hub', 'pydantic', "
        "'yaml', 'matplotlib', 'gguf', 'rich') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_data_found_from_the_checkout():
    from llmplan.catalog.loader import data_dir

    assert (data_dir() / "models.yaml").is_file()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_wheel_carries_the_data_and_finds_it(tmp_path):
    pytest.importorskip("hatchling")
    wheel_dir = tmp_path / "wheel"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheel_dir),
            "-q",
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    wheel = next(wheel_dir.glob("llmplan-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for f in ("llmplan/_data/models.yaml", "llmplan/_data/gpu_prices.yaml", "llmplan/_data/api_prices.yaml"):
        assert f in names
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(site), str(wheel), "-q"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    env = {**os.environ, "PYTHONPATH": str(site), "LLMPLAN_HOME": str(tmp_path / "home")}
    env.pop("LLMPLAN_DATA_DIR", None)
    code = (
        "import llmplan.catalog.loader as c, json; d = c.data_dir(); "
        "print(json.dumps([str(d), len(c.Catalog(include_user=False).models)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=tmp_path
    )
    where, count = json.loads(out.stdout)
    assert where.startswith(str(site)) and where.endswith("_data")
    assert count >= 65
    # the performance model's measured kernel fits come from the wheel too (a vLLM plan on an H100 reads them)
    code = (
        "import json; from llmplan.catalog.loader import Catalog; from llmplan.plans.deploy import "
        "build_deployment; from llmplan.core.fit import fit; d, _ = build_deployment(Catalog(include_user=False), "
        "'llama-3.1-8b-instruct', gpu='2xh100-sxm', quant='fp8'); p = fit(d).performance; "
        "print(json.dumps([p.model_note, p.decode_tokens_per_s]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=tmp_path
    )
    note, speed = json.loads(out.stdout)
    assert note == "step model on measured kernels: h100-sxm fp8 GEMM" and speed > 0


def test_installed_console_script_runs(tmp_path):
    exe = shutil.which("llmplan", path=str(Path(sys.executable).parent)) or shutil.which("llmplan")
    if exe is None:
        pytest.skip("llmplan console script not installed")
    env = {**os.environ, "LLMPLAN_HOME": str(tmp_path)}
    out = subprocess.run(
        [exe, "fit", "llama-3.1-8b-instruct", "--gpu", "rtx-4090", "--quant", "q4_k_m", "--format", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["fits"] is True
    bad = subprocess.run([exe, "fit", "nope-model"], capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error:") and "Traceback" not in bad.stderr
    assert subprocess.run([exe, "--help"], capture_output=True, env=env, timeout=60).returncode == 0


def test_every_command_has_help(run):
    for cmd in (["fit"], ["models"], ["models", "show"], ["gpus"], ["apis"], ["breakeven"], ["check"], ["compare"]):
        r = run(*cmd, "--help")
        assert r.exit_code == 0 and "Usage" in r.stdout
