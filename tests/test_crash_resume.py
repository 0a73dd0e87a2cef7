"""A run killed with SIGKILL while it writes a checkpoint resumes, on a plain rerun, from the newest
complete checkpoint and ends exactly where an uninterrupted run with the same seed ends: the same
global step, metrics, predictions and weights (dropout on, so the RNG states must be restored too)."""

import json
import os
import random
import signal
import subprocess
import sys

import pytest
import torch
from helpers import (
    FAST_FLAGS,
    REPO,
    assert_same_predictions,
    full_run_argv,
    read_jsonl,
    relation_example,
    run_seqcls,
    write_jsonl,
)
from safetensors.torch import load_file

from linkbert.cli import flags

# Runs the real entry point in a child process whose torch.save kills the process (SIGKILL, no
# cleanup of any kind) when it is about to write the optimizer state of checkpoint-8: by then the
# model weights of that checkpoint are written, the rest is not.
KILL_AT_CHECKPOINT_WRITE = """
import os, signal, sys, importlib.util, torch
real_save = torch.save
def save(obj, path, *args, **kwargs):
    if str(path).endswith("optimizer.pt") and "checkpoint-8" in str(path):
        os.kill(os.getpid(), signal.SIGKILL)
    return real_save(obj, path, *args, **kwargs)
torch.save = save
spec = importlib.util.spec_from_file_location("run_seqcls", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
sys.exit(module.main(sys.argv[2:]))
"""


def run_args(model, paths, out):
    args = [
        *full_run_argv(model, paths, out),
        *flags(max_seq_length="48", per_device_train_batch_size="4", learning_rate="1e-3"),
        *["--num_train_epochs", "2", "--metric_name", "PRF1", *FAST_FLAGS],
    ]
    at = args.index("--save_strategy")
    args[at : at + 2] = ["--save_strategy", "steps", "--save_steps", "4"]
    return args


@pytest.mark.slow
def test_a_run_killed_mid_checkpoint_resumes_to_the_same_result(tiny_model, tmp_path, caplog):
    rng = random.Random(5)
    paths = {
        split: write_jsonl(tmp_path / "data" / f"{split}.json", [relation_example(rng, i) for i in range(n)])
        for split, n in (("train", 32), ("dev", 8), ("test", 8))
    }
    straight, crashed = tmp_path / "straight", tmp_path / "crashed"
    assert run_seqcls(run_args(tiny_model, paths, straight)) == 0

    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
    entry = REPO / "src" / "seqcls" / "run_seqcls.py"
    child = subprocess.run(
        [sys.executable, "-c", KILL_AT_CHECKPOINT_WRITE, str(entry), *run_args(tiny_model, paths, crashed)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    # the half-written checkpoint never appeared under its final name
    assert (crashed / "checkpoint-4").is_dir() and not (crashed / "checkpoint-8").exists()
    assert (crashed / ".staging" / "checkpoint-8" / "model.safetensors").is_file()
    # an incomplete checkpoint from elsewhere (an older version, a lost disk) is skipped, and named
    (crashed / "checkpoint-12").mkdir()
    (crashed / "checkpoint-12" / "config.json").write_text("{}")

    caplog.clear()
    assert run_seqcls(run_args(tiny_model, paths, crashed)) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("skipping incomplete checkpoints" in w and "checkpoint-12" in w for w in warnings), warnings
    assert any(w.startswith(f"Resuming from {crashed / 'checkpoint-4'} (step 4)") for w in warnings), warnings
    assert not (crashed / ".staging").exists()

    def state(out):
        return json.loads((out / "trainer_state.json").read_text())

    assert state(crashed)["global_step"] == state(straight)["global_step"] == 16
    for name in ("eval_results.json", "predict_results.json"):
        ours, theirs = json.loads((crashed / name).read_text()), json.loads((straight / name).read_text())
        for key, value in theirs.items():
            if not key.endswith(("runtime", "per_second")):
                assert ours[key] == pytest.approx(value, rel=1e-6, abs=1e-9), (name, key)
    assert_same_predictions(
        read_jsonl(crashed / "predict_predictions.jsonl"), read_jsonl(straight / "predict_predictions.jsonl")
    )
    # the weights keep the user's usual permissions (safetensors alone writes them 0600)
    for weights in (crashed / "model.safetensors", crashed / "checkpoint-16" / "model.safetensors"):
        assert weights.stat().st_mode & 0o777 == 0o666 & ~current_umask(), weights
    expected = load_file(straight / "model.safetensors")
    for key, value in load_file(crashed / "model.safetensors").items():
        torch.testing.assert_close(value, expected[key], rtol=0, atol=1e-6, msg=key)


def make_checkpoint(folder, step, weights=True):
    folder.mkdir(parents=True)
    (folder / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    if weights:
        (folder / "model.safetensors").write_bytes(b"weights")
    return folder


def test_a_fresh_folder_holding_only_the_launcher_log_and_unfinished_writes_starts_fresh(tmp_path):
    from linkbert.errors import UsageError
    from linkbert.runs import clean_staging, resolve_checkpoint

    out = tmp_path / "run"
    out.mkdir()
    (out / "log.txt").write_text("launcher log\n")  # RESUME=1: the recipe launcher writes this first
    (out / ".staging" / "checkpoint-3").mkdir(parents=True)
    assert resolve_checkpoint(out, None, overwrite=False) is None
    clean_staging(out)
    assert sorted(p.name for p in out.iterdir()) == ["log.txt"]
    (out / "notes.md").write_text("mine")
    with pytest.raises(UsageError, match=r"holds files \(notes.md\)"):
        resolve_checkpoint(out, None, overwrite=False)


def test_the_newest_complete_checkpoint_wins_and_explicit_ones_must_be_complete(tmp_path):
    from linkbert.errors import UsageError
    from linkbert.runs import resolve_checkpoint

    out = tmp_path / "run"
    make_checkpoint(out / "checkpoint-10", 10)
    make_checkpoint(out / "checkpoint-20", 20, weights=False)  # killed before its weights landed
    (out / "checkpoint-30").mkdir()  # empty
    assert resolve_checkpoint(out, None, overwrite=False) == str(out / "checkpoint-10")
    assert resolve_checkpoint(out, "last", overwrite=False) == str(out / "checkpoint-10")
    assert resolve_checkpoint(out, None, overwrite=True) is None
    with pytest.raises(UsageError, match="checkpoint-20: incomplete checkpoint"):
        resolve_checkpoint(out, str(out / "checkpoint-20"), overwrite=False)
    with pytest.raises(UsageError, match="checkpoint directory not found"):
        resolve_checkpoint(out, str(out / "checkpoint-99"), overwrite=False)


def test_the_next_write_of_a_file_removes_what_a_killed_writer_left(tmp_path):
    from linkbert.jsonl import write_jsonl as write_atomically

    target = tmp_path / "train.json"
    dead = tmp_path / ".train.json.999999999.0badc0de.tmp"  # no such process
    alive = tmp_path / f".train.json.{os.getppid()}.00c0ffee.tmp"  # a running writer (our parent)
    other = tmp_path / ".dev.json.999999999.0badc0de.tmp"  # another file's: not this step's to remove
    for leftover in (dead, alive, other):
        leftover.write_text("half a file")
    assert write_atomically(target, [{"id": 1}]) == 1
    assert not dead.exists() and alive.exists() and other.exists()
    assert target.read_text() == '{"id": 1}\n'
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~current_umask())


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
