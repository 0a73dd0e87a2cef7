"""run_pretrain under `torchrun --nproc_per_node 2` on the CPU (gloo): both ranks train on their own
instances, the log sums over both, every rank saves its stream position, and the checkpoint loads."""

import json
import os
import random
import socket
import subprocess
import sys

import pytest
import torch
from helpers import REPO, build_pairs, read_jsonl, write_jsonl

from linkbert.cli import flags
from linkbert.pretrain.model import LinkBertForPreTraining

WORDS = "north south river hill town boat sheep wool honey storm bridge lamp ferry harbour".split()
PER_DEVICE, STEPS = 4, 4


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def tiny_pretraining_data(root):
    """A tiny BERT and 20 linked documents built into pairs."""
    from linkbert.tools.tiny_bert import build_tiny_bert

    rng = random.Random(0)
    docs = []
    for i in range(20):
        text = " ".join(" ".join(rng.choices(WORDS, k=rng.randint(4, 8))) + "." for _ in range(rng.randint(2, 4)))
        docs.append({"id": f"d{i}", "text": text, "links": [f"d{j}" for j in rng.sample(range(20), 2)]})
    corpus = write_jsonl(root / "corpus.jsonl", docs)
    bert = build_tiny_bert(root / "bert", [d["text"] for d in docs], vocab_size=100, seed=0)
    argv = flags(corpus=corpus, tokenizer=bert, output_dir=root / "pairs", max_seq_length="32", segment_length="14")
    assert build_pairs(argv) == 0
    return bert, root / "pairs"


@pytest.mark.slow
def test_two_process_gloo_pretraining(tmp_path):
    bert, pairs = tiny_pretraining_data(tmp_path)
    out = tmp_path / "out"
    argv = flags(
        model_name_or_path=bert,
        train_dir=pairs,
        output_dir=out,
        max_steps=str(STEPS),
        per_device_train_batch_size=str(PER_DEVICE),
        learning_rate="1e-3",
        logging_steps="2",
        save_steps="2",
        seed="3",
        dataloader_num_workers="1",  # the prefetching worker path, under DDP
    )
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(free_port()),
        str(REPO / "src" / "pretrain" / "run_pretrain.py"),
        *argv,
    ]
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    run = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    # each logged window: 2 steps x 4 instances x 2 processes, summed over the ranks
    log = read_jsonl(out / "pretrain_log.jsonl")
    assert [record["step"] for record in log] == [2, 4]
    for record in log:
        assert sum(record[f"drp_count_{name}"] for name in ("contiguous", "random", "linked")) == 2 * PER_DEVICE * 2
    results = json.loads((out / "train_results.json").read_text())
    assert results["global_step"] == STEPS

    # every rank saved its own position: 16 instances into its half of the data
    manifest = json.loads((pairs / "manifest.json").read_text())
    per_rank = manifest["num_pairs"] // 2
    assert per_rank > STEPS * PER_DEVICE  # still in the first epoch
    checkpoint = out / f"checkpoint-{STEPS}"
    assert json.loads((checkpoint / "trainer_state.json").read_text())["world_size"] == 2
    for rank in (0, 1):
        state = torch.load(checkpoint / f"rng_state_{rank}.pth", weights_only=True)
        assert state["stream"] == {"epoch": 0, "position": STEPS * PER_DEVICE}

    # the checkpoints load, and the final weights are those of the last checkpoint
    final = dict(LinkBertForPreTraining.from_pretrained(out).named_parameters())
    for name, param in LinkBertForPreTraining.from_pretrained(checkpoint).named_parameters():
        torch.testing.assert_close(param, final[name], msg=name)
    start = LinkBertForPreTraining.from_pretrained(bert)
    assert not torch.equal(start.cls.predictions.bias, final["cls.predictions.bias"])
