"""What a run prints at the default log level: the resolved settings in a few lines, the Trainer's
progress bar, the results; no colour codes (they would end up in the recipes' log.txt), no loading
report table, no CPU-only warnings."""

import os
import subprocess
import sys

import pytest
from helpers import REPO, make_seqcls_splits, relation_example

from linkbert.cli import flags


@pytest.mark.slow
def test_a_default_run_prints_settings_and_results_without_noise(tiny_model, tmp_path):
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(16, 8, 8))
    argv = flags(
        model_name_or_path=tiny_model,
        train_file=paths["train"],
        validation_file=paths["dev"],
        test_file=paths["test"],
        do_train=True,
        do_eval=True,
        do_predict=True,
        output_dir=tmp_path / "out",
        num_train_epochs=1,
        metric_name="PRF1",
        report_to="none",
    )
    result = subprocess.run(
        [sys.executable, str(REPO / "src" / "seqcls" / "run_seqcls.py"), *argv],
        env=dict(os.environ, PYTHONPATH=str(REPO / "src")),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert "\x1b[" not in output  # no ANSI colour codes
    for noise in ("LOAD REPORT", "pin_memory", "were not sharded", "Writing model shards", "Tokenizing"):
        assert noise not in output, noise
    lines = [line for line in result.stdout.splitlines() if " INFO linkbert" in line]
    assert any(
        "training: 1 epochs, effective batch 8 = 8 per device x 1 accumulation x 1 process(es)" in line
        for line in lines
    )
    assert any("newly initialised: classifier.bias, classifier.weight" in line for line in lines)
    assert any(line.split(": ", 1)[1].startswith("predict: ") and "test_F1" in line for line in lines)
    assert len(lines) < 20
