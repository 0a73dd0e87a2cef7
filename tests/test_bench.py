"""The fine-tuning benchmark's bookkeeping (not its speed): token counts of the batches the Trainer
really built, on a shape small enough for the CPU."""

import json
import os
import random

import pytest
from helpers import REPO, load_module

from linkbert.cli import flags


def load_bench_module(name: str):
    """Import bench/<name>.py under its own name (summarize imports finetune_throughput by name)."""
    return load_module(REPO / "bench" / f"{name}.py", name, register=True)


finetune_throughput = load_bench_module("finetune_throughput")
summarize = load_bench_module("summarize")


@pytest.mark.slow
def test_token_counts_and_report_of_a_qa_run(tmp_path, capsys):
    output = tmp_path / "report.json"
    steps = 3
    argv = flags(shape="tiny-qa", steps=steps, settings="original,padfree", learnable_steps="0", output=output)
    assert finetune_throughput.main(argv) == 0
    report = json.loads(output.read_text())
    _, _, _, _, max_length, batch, mean, std, low = finetune_throughput.SHAPES["tiny-qa"]
    # the benchmark draws its lengths from Random(0); each word of the synthetic data is one token
    lengths = finetune_throughput.synthetic_lengths(random.Random(0), steps * batch, mean, std, low, max_length)
    original, padfree = report["settings"]["original"], report["settings"]["padfree"]
    # QA pads every window to max_seq_length; every example is one window
    assert original["padded_tokens"] == steps * batch * max_length
    assert original["real_tokens"] == padfree["real_tokens"] == sum(lengths)
    assert original["encoder_tokens"] == original["padded_tokens"]
    assert padfree["encoder_tokens"] == padfree["real_tokens"]
    assert original["speedup_vs_original"] == 1.0
    # each setting ran in a process of its own, not in this one
    assert len({original["process_id"], padfree["process_id"], os.getpid()}) == 3
    capsys.readouterr()
    assert summarize.main([str(output)]) == 0
    table = capsys.readouterr().out
    assert "| original" in table and "| padfree" in table and "tiny-qa: 3 steps x batch 16" in table


def test_readme_block_is_replaced_between_its_markers_only(tmp_path, capsys):
    readme = tmp_path / "README.md"
    start, end = summarize.README_START, summarize.README_END
    readme.write_text(f"# Title\nbefore\n{start}\nold table\nold line\n{end}\nafter\n")
    assert summarize.write_readme_block(readme, "| new | table |") == 0
    assert readme.read_text() == f"# Title\nbefore\n{start}\n\n| new | table |\n\n{end}\nafter\n"
    assert summarize.write_readme_block(readme, "second") == 0  # rewriting is idempotent in shape
    assert readme.read_text() == f"# Title\nbefore\n{start}\n\nsecond\n\n{end}\nafter\n"
    readme.write_text("no markers here\n")
    assert summarize.write_readme_block(readme, "x") == 1
    assert readme.read_text() == "no markers here\n"
    assert "expected one line" in capsys.readouterr().err


def test_the_gpu_run_stops_at_once_without_a_gpu(tmp_path):
    """bench/gpu_run.sh is for a machine with CUDA; here it must say so and write nothing."""
    import subprocess
    import sys

    env = dict(os.environ, PYTHON=sys.executable, CUDA_VISIBLE_DEVICES="")
    before = sorted((REPO / "bench" / "results").iterdir())
    done = subprocess.run(["bash", str(REPO / "bench" / "gpu_run.sh")], capture_output=True, text=True, env=env)
    assert done.returncode == 2
    assert "no CUDA GPU visible" in done.stderr
    assert sorted((REPO / "bench" / "results").iterdir()) == before


def test_the_readme_has_the_gpu_results_block_the_gpu_run_fills(tmp_path):
    copy = tmp_path / "README.md"
    copy.write_text((REPO / "README.md").read_text(encoding="utf-8"), encoding="utf-8")
    assert summarize.write_readme_block(copy, "| gpu | table |") == 0
    assert "| gpu | table |" in copy.read_text(encoding="utf-8")
