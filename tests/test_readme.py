"""Every command the README shows, and every `--help` example, runs; the figures the README quotes still hold.

Commands are taken from the README's code blocks (lines starting with `llmplan `, ` \\` continuations
joined) and from each command's `--help` Examples section, and run through the CLI runner in a scratch folder
holding what they name: `examples/`, a `plans/` folder with `llmplan check --init`'s plan, a model folder and a
small GGUF file. `pip install ...` lines are not run. A command that needs the Hugging Face hub is listed in
NOT_RUN with the reason.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from conftest import DATA

from llmplan.cli import docs

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

# command prefix -> why the test does not run it
NOT_RUN = {
    "llmplan models add ": "fetches a model from the Hugging Face hub, which tests never reach",
}
# command prefix -> the exit code the README or the help says it ends with (0 otherwise); the README's
# `llmplan check plans/` runs on `check --init`'s example plan, which passes
EXIT: dict[str, int] = {}


def code_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every fenced block."""
    return re.findall(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)


def commands_in(body: str) -> list[str]:
    """Lines starting with `llmplan ` (after indentation), continuation lines joined."""
    out, lines, i = [], body.splitlines(), 0
    while i < len(lines):
        line = lines[i].strip()
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1].rstrip() + " " + lines[i].strip()
        if line.startswith("llmplan "):
            out.append(line)
        i += 1
    return out


def readme_commands() -> list[str]:
    return [c for _, body in code_blocks(README) for c in commands_in(body)]


def help_commands() -> list[str]:
    return [c for path in docs.command_paths() if path for c in docs.help_examples(path)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A folder with what the commands name: examples/, plans/llm.yaml, ./my-finetune/ and a GGUF file."""
    from test_localfiles import write_gguf
    from typer.testing import CliRunner

    from llmplan.cli import app

    work = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "examples", work / "examples")
    (work / "plans").mkdir()
    init = CliRunner().invoke(app, ["check", "--init"])
    assert init.exit_code == 0, init.stderr
    (work / "plans" / "llm.yaml").write_text(init.stdout, encoding="utf-8")
    (work / "my-finetune").mkdir()
    shutil.copy(DATA / "model-configs" / "meta-llama" / "Meta-Llama-3.1-8B" / "config.json", work / "my-finetune")
    write_gguf(work / "Meta-Llama-3-8B.Q4_K_M.gguf")
    return work


def run_line(line: str, cwd: Path, monkeypatch) -> tuple[int, str, str]:
    """Run a shell line of `llmplan` commands joined by `&&`, each with an optional `> FILE`; returns the last
    exit code with its stdout and stderr (a failing command stops the line, as in a shell)."""
    from typer.testing import CliRunner

    from llmplan.cli import app

    monkeypatch.chdir(cwd)
    code, out, err = 0, "", ""
    for part in line.split("&&"):
        words = shlex.split(part, comments=True)
        target = None
        if ">" in words:
            at = words.index(">")
            words, target = words[:at], words[at + 1]
        assert words[0] == "llmplan", line
        result = CliRunner().invoke(app, words[1:], env={"COLUMNS": "80"})
        code, out, err = result.exit_code, result.stdout, result.stderr
        if target:
            (cwd / target).write_text(out, encoding="utf-8")
        if code != 0:
            break
    return code, out, err


def _not_run(command: str) -> str | None:
    return next((why for prefix, why in NOT_RUN.items() if command.startswith(prefix)), None)


ALL = list(dict.fromkeys(readme_commands() + help_commands()))


def test_commands_are_found():
    readme = readme_commands()
    assert len(readme) >= 25 and any(c.startswith("llmplan plan ") for c in readme)
    assert not any(c.startswith("pip") for c in readme)  # `pip install . && llmplan ...` is not run
    assert any(c.startswith("llmplan compare ") and "\\" not in c for c in help_commands())


@pytest.mark.parametrize("command", ALL)
def test_command_runs(command, workdir, monkeypatch):
    why = _not_run(command)
    if why:
        pytest.skip(why)
    if "--plot" in command:
        pytest.importorskip("matplotlib")
    code, out, err = run_line(command, workdir, monkeypatch)
    expected = next((c for prefix, c in EXIT.items() if command.startswith(prefix)), 0)
    assert code == expected, f"{command}\nexit {code}\n{err}\n{out[-2000:]}"


# ---- the figures the README quotes


def _block_after(marker: str, lang: str = "") -> str:
    """The first fenced block of language `lang` after the text `marker`."""
    start = README.index(marker)
    blocks = re.finditer(r"^```(\w*)\n(.*?)^```", README, re.S | re.M)
    return next(m.group(2) for m in blocks if m.start() > start and m.group(1) == lang)


def _normalize(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())


def test_plan_example_output_is_current(workdir, monkeypatch):
    command = commands_in(_block_after("## `llmplan plan`", "bash"))[0]
    shown = _block_after("## `llmplan plan`")  # the output block (no language) after the command
    code, out, _ = run_line(command, workdir, monkeypatch)
    assert code == 0
    assert _normalize(out) == _normalize(shown)


def test_compare_example_table_is_current(workdir, monkeypatch):
    section = README[README.index("## `llmplan compare`") : README.index("## `llmplan breakeven`")]
    command = commands_in(_block_after("## `llmplan compare`", "bash"))[0]
    code, out, _ = run_line(command + " --format markdown", workdir, monkeypatch)
    assert code == 0
    readme_rows = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| option")]
    out_rows = [line for line in out.splitlines() if line.startswith("| ") and not line.startswith("| option")]
    assert readme_rows == out_rows


def test_fit_emit_examples_are_current(workdir, monkeypatch):
    block = _block_after("### Memory as the engine accounts it", "bash")
    vllm, llama = commands_in(block)
    comments = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    code, out, _ = run_line(vllm, workdir, monkeypatch)
    assert code == 0
    # "... FITS; KV pool 1.9 GB = 5,8xx tokens; launch (vllm):" (x: any digit)
    pool = re.search(r"KV pool ([\d.]+ GB) = ([\dx,]+) tokens", comments[0])
    assert "FITS" in comments[0] and "\nFITS\n" in out
    figure = re.search(r"KV pool ([\d.]+ GB) per GPU = ([\d,]+) tokens", " ".join(out.split()))
    assert figure.group(1) == pool.group(1)
    assert re.fullmatch(pool.group(2).replace("x", r"\d"), figure.group(2))
    assert comments[1].rstrip(" .") in out  # the launch line, up to the README's "..."
    code, out, _ = run_line(llama, workdir, monkeypatch)
    assert code == 0 and comments[2] in out


def test_seed_fit_does_not_fit(workdir, monkeypatch):
    line = next(c for c in readme_commands() if "the seed's claim: does not fit" in c)
    code, out, _ = run_line(line.split("#")[0] + " --format json", workdir, monkeypatch)
    assert code == 0 and json.loads(out)["fits"] is False


def _money(text: str) -> float:
    return float(text.replace(",", "").replace("$", ""))


def test_seed_breakeven_figures(workdir, monkeypatch):
    prose = " ".join(README[README.index("### The seed example") : README.index("## `llmplan finetune`")].split())
    code, out, _ = run_line(
        "llmplan breakeven --workload examples/seed-breakeven.yaml --api openai/gpt-4o-mini "
        "--api google/gemini-2.5-flash-lite --api openai/gpt-4o --format json",
        workdir,
        monkeypatch,
    )
    assert code == 0
    report = json.loads(out)
    s, apis = report["self_hosted"], {a["id"]: a for a in report["apis"]}
    assert f"${s['gpu_monthly_usd']:,.0f}/month" in prose
    assert f"Total ${s['monthly_cost_usd']:,.0f}/month" in prose
    assert f"${s['monthly_cost_low_usd']:,.0f}-{s['monthly_cost_high_usd']:,.0f}" in prose
    assert f"${s['usd_per_mtok']:.2f} per million tokens" in prose
    assert f"{s['utilization'] * 100:.0f}% average utilization" in prose
    rate = re.search(r"sustains ~([\d.]+) requests/s \(([\d,]+) output tokens/s\)", prose)
    assert float(rate.group(1)) == round(s["replica_requests_per_s"], 1)
    assert _money(rate.group(2)) == round(s["replica_output_tokens_per_s"], -2)
    mini = apis["openai/gpt-4o-mini"]
    caught = re.search(r"catches GPT-4o-mini only at ~([\d.]+) million requests/day", prose)
    assert float(caught.group(1)) == round(mini["breakeven_requests_per_day"] / 1e6, 1)
    per_replica = s["replica_requests_per_s"] * 86400 / report["workload"]["peak_to_average"]
    served = re.search(r"Each added replica serves ~([\d,]+) requests/day", prose)
    assert _money(served.group(1)) == round(per_replica, -3)
    at_mini = re.search(r"would cost ~\$([\d,]+) at GPT-4o-mini's prices", prose)
    assert _money(at_mini.group(1)) == round(per_replica / 1e5 * mini["monthly_cost_usd"], -1)
    gpt4o = apis["openai/gpt-4o"]
    against = re.search(r"Against GPT-4o \(\$([\d,]+)/month\) self-hosting wins above ~([\d,]+) requests/day", prose)
    assert _money(against.group(1)) == round(gpt4o["monthly_cost_usd"])
    assert _money(against.group(2)) == round(gpt4o["breakeven_requests_per_day"], -3)


def test_catalog_sizes(workdir, monkeypatch):
    data = " ".join(README[README.index("## Data") :].split())
    for command, pattern in (
        ("llmplan models list", r"(\d+) models"),
        ("llmplan gpus", r"(\d+) accelerators"),
        ("llmplan apis", r"(\d+) API offerings"),
    ):
        code, out, _ = run_line(command, workdir, monkeypatch)
        assert code == 0
        assert re.search(pattern, data).group(1) == re.search(pattern, out).group(1), command


def test_example_plans_pass_and_fail_as_the_readme_says(workdir, monkeypatch):
    assert "`examples/plans/passing.yaml` passes; `examples/plans/failing.yaml`" in " ".join(README.split())
    assert run_line("llmplan check examples/plans/passing.yaml", workdir, monkeypatch)[0] == 0
    assert run_line("llmplan check examples/plans/failing.yaml", workdir, monkeypatch)[0] == 1
