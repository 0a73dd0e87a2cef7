"""Several processes, resumed runs and offline tracking, on the tiny model and CPU."""

import json
import os
import random
import shutil
import subprocess
import sys

import pytest
from helpers import FAST_FLAGS, REPO, full_run_argv, make_seqcls_splits, read_jsonl, relation_example, run_seqcls

from linkbert.cli import flags


def failure_report(result) -> str:
    """What a failed torchrun printed that explains it: every rank's error lines, then the tail."""
    output = result.stdout + result.stderr
    lines = [
        line
        for line in output.splitlines()
        if any(word in line for word in ("Error", "error:", "Traceback", "terminate", "Signal"))
    ]
    return "\n".join(lines[:40]) + "\n...\n" + output[-2000:]


def torchrun_seqcls(args: list[str]) -> subprocess.CompletedProcess:
    """run_seqcls.py under torchrun, two processes on the CPU (gloo), one thread each."""
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
    port = str(random.randint(20000, 40000))
    entry = str(REPO / "src" / "seqcls" / "run_seqcls.py")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", port, entry, *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def seqcls_args(tiny_model, paths, out, *extra):
    return [
        *full_run_argv(tiny_model, paths, out),
        *flags(
            max_seq_length="48",
            per_device_train_batch_size="4",
            learning_rate="1e-3",
            num_train_epochs="2",
            metric_name="PRF1",
        ),
        *FAST_FLAGS,
        *extra,
    ]


@pytest.mark.slow
def test_two_process_gloo_ddp_run_writes_every_result_and_one_prediction_per_example(tiny_model, tmp_path):
    """torchrun, 2 processes, gloo: the results files carry the same keys as a single-process run's,
    the predictions files hold exactly one record per example in file order, and the step count is
    that of the global batch (2 processes x 4). The scores themselves are not compared: the two runs
    see different batches, so they train to different weights."""
    # an odd number of test examples: the distributed sampler pads, the gather must drop the padding
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(24, 9, 11))
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    assert run_seqcls(seqcls_args(tiny_model, paths, single)) == 0
    result = torchrun_seqcls(seqcls_args(tiny_model, paths, ddp))
    assert result.returncode == 0, failure_report(result)
    for name in ("predict_results.json", "eval_results.json", "all_results.json"):
        single_keys = set(json.loads((single / name).read_text()))
        assert set(json.loads((ddp / name).read_text())) == single_keys, name
    for prefix, split in (("eval", "dev"), ("predict", "test")):
        records = read_jsonl(ddp / f"{prefix}_predictions.jsonl")
        assert [r["id"] for r in records] == [g["id"] for g in read_jsonl(paths[split])]
    state = json.loads((ddp / "trainer_state.json").read_text())
    # 24 examples, 2 processes x batch 4 = 8 per step -> 3 steps per epoch, 2 epochs
    assert state["global_step"] == 6


def test_resumed_run_reaches_the_same_final_step(tiny_model, tmp_path):
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(32, 8, 8))
    full, crashed = tmp_path / "full", tmp_path / "crashed"
    args = seqcls_args(tiny_model, paths, full)
    args[args.index("--save_strategy") + 1 : args.index("--save_strategy") + 2] = ["steps", "--save_steps", "5"]
    assert run_seqcls(args) == 0
    total = json.loads((full / "trainer_state.json").read_text())["global_step"]
    assert total == 16  # 32 examples / batch 4 x 2 epochs

    # a crash after step 5: only the first checkpoint survives
    crashed.mkdir()
    shutil.copytree(full / "checkpoint-5", crashed / "checkpoint-5")
    resume_args = [a if a != str(full) else str(crashed) for a in args]
    assert run_seqcls(resume_args) == 0
    state = json.loads((crashed / "trainer_state.json").read_text())
    assert state["global_step"] == total
    assert (crashed / "predict_results.json").is_file()


def warnings_logged(caplog) -> list[str]:
    return [
        record.getMessage() for record in caplog.records if record.levelname == "WARNING" and record.name == "linkbert"
    ]


def test_rerun_with_other_settings_stops_and_a_same_settings_rerun_resumes_with_a_warning(
    tiny_model, tmp_path, capsys, caplog
):
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(16, 4, 4))
    out = tmp_path / "run"
    args = seqcls_args(tiny_model, paths, out, "--num_train_epochs", "1")
    args[args.index("--save_strategy") + 1 : args.index("--save_strategy") + 2] = ["steps", "--save_steps", "2"]
    assert run_seqcls(args) == 0
    saved = json.loads((out / "checkpoint-4" / "run_settings.json").read_text())
    assert saved["learning_rate"] == 1e-3 and saved["per_device_train_batch_size"] == 4 and saved["seed"] == 42
    assert saved["train_file"]["path"] == str(paths["train"].resolve())
    capsys.readouterr()

    # a new learning rate and seed into the same folder: one line naming both, nothing touched
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    assert run_seqcls([*args, "--learning_rate", "5e-4", "--seed", "3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "learning_rate: 0.001 -> 0.0005" in err[0] and "seed: 42 -> 3" in err[0]
    assert "--overwrite_output_dir" in err[0] and "--output_dir" in err[0]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before

    # the same settings: resumes from the newest checkpoint, announced at warning level
    caplog.clear()
    assert run_seqcls(args) == 0
    assert any(
        message.startswith(f"Resuming from {out / 'checkpoint-4'} (step 4)") for message in warnings_logged(caplog)
    )

    # naming the checkpoint explicitly continues with changed settings, and says what changed
    caplog.clear()
    assert run_seqcls([*args, "--num_train_epochs", "2", "--resume_from_checkpoint", str(out / "checkpoint-4")]) == 0
    assert any("num_train_epochs: 1.0 -> 2.0" in message for message in warnings_logged(caplog))
    assert json.loads((out / "trainer_state.json").read_text())["global_step"] == 8


def test_tensorboard_reporting_writes_event_files(tiny_model, tmp_path):
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(16, 4, 4))
    out = tmp_path / "out"
    args = seqcls_args(tiny_model, paths, out, "--logging_steps", "2")
    args[args.index("--report_to") + 1] = "tensorboard"
    assert run_seqcls(args) == 0
    assert list(out.rglob("events.out.tfevents.*"))


@pytest.mark.slow
def test_wandb_offline_reporting_needs_no_account(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(16, 4, 4))
    out = tmp_path / "out"
    args = seqcls_args(tiny_model, paths, out, "--logging_steps", "2")
    args[args.index("--report_to") + 1] = "wandb"
    assert run_seqcls(args) == 0
    assert list((tmp_path / "wandb").glob("offline-run-*"))


@pytest.mark.slow
@pytest.mark.parametrize("extra", [["--no_padding_free"], []], ids=["padded", "padding_free"])
def test_sharded_ddp_flag_is_translated_to_fsdp_and_a_two_process_run_trains(tiny_model, tmp_path, extra):
    """The original's --sharded_ddp zero_dp_3 (fairscale) is translated to the Trainer's --fsdp flags
    (the run announces the translation), and a two-process torchrun run with them, with the
    padding-free encoder too, completes, saves a full, ordinary checkpoint whose encoder weights
    changed, and predicts every test example. This does not test FSDP itself: on CPU accelerate has
    no FSDP and trains the two processes with DDP, so sharding is only exercised on GPUs (SHARDED=1
    in the recipes)."""
    from safetensors.torch import load_file

    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(16, 6, 6))
    out = tmp_path / "fsdp"
    result = torchrun_seqcls(seqcls_args(tiny_model, paths, out, "--sharded_ddp", "zero_dp_3", *extra))
    assert result.returncode == 0, failure_report(result)
    assert (
        "--sharded_ddp zero_dp_3 (fairscale) runs as PyTorch FSDP: "
        """--fsdp --fsdp_config '{"reshard_after_forward": true, "transformer_layer_cls_to_wrap": ["BertLayer"]}'"""
        in result.stdout
        + result.stderr
    )
    trained = load_file(out / "model.safetensors")
    initial = load_file(tiny_model / "model.safetensors")
    encoder = [name for name in trained if name.startswith("bert.encoder.")]
    assert encoder and all(trained[name].shape == initial[name].shape for name in encoder)
    assert any(not (trained[name] == initial[name]).all() for name in encoder)  # it trained
    assert len(read_jsonl(out / "predict_predictions.jsonl")) == 6
