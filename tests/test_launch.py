"""The recipe launcher: effective-batch arithmetic, torchrun command, RESUME and SHARDED."""

import json
import sys

import pytest

from linkbert.cli import flags
from linkbert.tools.launch import batch_plan, command, job_arguments


@pytest.mark.parametrize(
    "per_device,accum,world,expected",
    [
        (16, 1, 1, (16, 1)),  # one GPU: the paper's setting unchanged
        (12, 2, 2, (12, 1)),  # 24 = 12 x 1 x 2
        (12, 2, 8, (3, 1)),  # 24 / 8 = 3 per process
        (8, 4, 8, (4, 1)),  # 32 / 8 = 4
        (8, 4, 2, (8, 2)),  # 32 / 2 = 16 = 8 x 2: per-device never above the paper's 8
        (2, 32, 4, (2, 8)),  # MedQA-large: 64 / 4 = 16 = 2 x 8
        (32, 1, 3, None),  # 32 does not split over 3 processes
    ],
)
def test_batch_plan_keeps_the_effective_batch(per_device, accum, world, expected):
    if expected is None:
        with pytest.raises(ValueError, match="cannot be split evenly"):
            batch_plan(per_device, accum, world)
        return
    new_per_device, new_accum = batch_plan(per_device, accum, world)
    assert (new_per_device, new_accum) == expected
    assert new_per_device * new_accum * world == per_device * accum


def test_single_process_command_runs_the_entry_script_directly():
    cmd = command("src/seqcls/run_seqcls.py", ["--do_train"], {})
    assert cmd == [sys.executable, "-u", "src/seqcls/run_seqcls.py", "--do_train"]


def test_multi_node_command_goes_through_torchrun():
    env = {"NPROC": "4", "NNODES": "2", "NODE_RANK": "1", "MASTER_ADDR": "10.0.0.1", "MASTER_PORT": "1234"}
    cmd = command("e.py", ["--x"], env)
    assert cmd[:3] == [sys.executable, "-m", "torch.distributed.run"]
    for flag, value in (
        ("--nproc_per_node", "4"),
        ("--nnodes", "2"),
        ("--node_rank", "1"),
        ("--master_addr", "10.0.0.1"),
        ("--master_port", "1234"),
    ):
        assert cmd[cmd.index(flag) + 1] == value
    assert cmd[-2:] == ["e.py", "--x"]


BASE = flags(output_dir="o", save_strategy="no", overwrite_output_dir=True, fp16=True)


def test_job_arguments_apply_the_batch_plan():
    args = job_arguments(BASE, 8, 4, {"NPROC": "2"})
    assert args[args.index("--per_device_train_batch_size") + 1] == "8"
    assert args[args.index("--gradient_accumulation_steps") + 1] == "2"


def test_resume_saves_checkpoints_and_does_not_overwrite():
    args = job_arguments(BASE, 8, 1, {"RESUME": "1", "SAVE_STEPS": "50"})
    assert "--overwrite_output_dir" not in args
    assert args[args.index("--save_strategy") + 1] == "steps" and args.count("--save_strategy") == 1
    assert args[args.index("--save_steps") + 1] == "50"
    assert "--fp16" in args and args[args.index("--output_dir") + 1] == "o"


def test_sharded_asks_for_zero_dp_3_once_and_it_becomes_the_one_fsdp_config():
    from linkbert.finetune.args import translate_legacy_flags

    args = job_arguments(BASE, 8, 1, {"SHARDED": "1"})
    assert args.count("--sharded_ddp") == 1 and args[args.index("--sharded_ddp") + 1] == "zero_dp_3"
    translated = translate_legacy_flags(args)
    assert translated.count("--fsdp") == 1
    config = json.loads(translated[translated.index("--fsdp_config") + 1])
    assert config == {"reshard_after_forward": True, "transformer_layer_cls_to_wrap": ["BertLayer"]}
    # a recipe job that already passes the original's --sharded_ddp keeps its own mode, once
    own = job_arguments([*BASE, "--sharded_ddp", "zero_dp_2"], 8, 1, {"SHARDED": "1"})
    assert own.count("--sharded_ddp") == 1 and own[own.index("--sharded_ddp") + 1] == "zero_dp_2"
