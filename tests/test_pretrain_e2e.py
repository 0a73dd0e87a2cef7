"""End to end: linked corpus -> build_pairs -> run_pretrain -> a BERT checkpoint that the
fine-tuning entry point trains on. Also from-scratch + streaming, the recipe and the demo hook."""

import json
import math
import os
import random
import subprocess
import sys

import pytest
import torch
from helpers import REPO, build_pairs, read_jsonl, run_pretrain, run_seqcls, write_jsonl

from linkbert.cli import flags
from linkbert.pretrain.model import LinkBertForPreTraining

PEOPLE = "ana bo cyd dee eli fay gus hal ivo jen kai lou".split()
TOWNS = "harrow olbury tessel brannock fenwick ashby".split()
TRADES = "baker smith weaver sailor farmer miner".split()


def linked_corpus(seed=0):
    """People living in towns: a person's page links to their town's page, as Wikipedia does."""
    rng = random.Random(seed)
    docs = [
        {
            "id": f"town_{t}",
            "text": f"{t} is a town by the sea. {t} has a harbour and a market. the people of {t} fish and farm.",
            "links": [],
        }
        for t in TOWNS
    ]
    for i, person in enumerate(PEOPLE * 3):
        town, trade = rng.choice(TOWNS), rng.choice(TRADES)
        name = f"{person} {TOWNS[i % len(TOWNS)]}son"
        text = (
            f"{name} lives in {town}. {name} works as a {trade}. "
            f"{name} was born in {rng.choice(TOWNS)}. {name} likes the sea."
        )
        docs.append({"id": f"p{i}", "text": text, "links": [f"town_{town}"]})
    return docs


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    from linkbert.tools.tiny_bert import build_tiny_bert

    root = tmp_path_factory.mktemp("e2e")
    docs = linked_corpus()
    corpus = write_jsonl(root / "corpus.jsonl", docs)
    bert = build_tiny_bert(root / "bert", [d["text"] for d in docs] * 3, vocab_size=150, hidden_size=32, seed=0)
    build = flags(
        corpus=corpus,
        tokenizer=bert,
        output_dir=root / "pairs",
        max_seq_length="40",
        segment_length="18",
        dupe_factor="3",
        seed="0",
        num_shards="2",
    )
    assert build_pairs(build) == 0
    out = root / "linkbert"
    train = flags(
        model_name_or_path=bert,
        train_dir=root / "pairs",
        output_dir=out,
        max_steps="60",
        per_device_train_batch_size="16",
        learning_rate="2e-3",
        warmup_steps="5",
        logging_steps="5",
        save_steps="30",
        seed="0",
    )
    assert run_pretrain(train) == 0
    return {"root": root, "bert": bert, "pairs": root / "pairs", "out": out}


@pytest.mark.slow
def test_losses_fall_and_drp_accuracy_is_logged_per_pair_type(pretrained):
    log = read_jsonl(pretrained["out"] / "pretrain_log.jsonl")
    assert [r["step"] for r in log] == list(range(5, 61, 5))
    for record in log:
        assert all(math.isfinite(record[k]) for k in ("loss", "mlm_loss", "drp_loss"))
        assert math.isclose(record["loss"], record["mlm_loss"] + record["drp_loss"], rel_tol=1e-6)
        for name in ("contiguous", "random", "linked"):
            assert record[f"drp_count_{name}"] > 0 and 0.0 <= record[f"drp_accuracy_{name}"] <= 1.0
    first, last = log[:3], log[-3:]
    for key in ("loss", "mlm_loss"):
        assert sum(r[key] for r in last) / 3 < sum(r[key] for r in first) / 3 - 0.3, key
    manifest = json.loads((pretrained["pairs"] / "manifest.json").read_text())
    assert min(manifest["pair_counts"].values()) > 0.25 * manifest["num_pairs"]


@pytest.mark.slow
def test_output_is_a_standard_bert_checkpoint(pretrained):
    from transformers import AutoModelForQuestionAnswering, AutoModelForSequenceClassification, AutoTokenizer

    out = pretrained["out"]
    config = json.loads((out / "config.json").read_text())
    assert config["model_type"] == "bert"
    assert (out / "tokenizer.json").is_file() and (out / "vocab.txt").is_file()
    assert (
        AutoTokenizer.from_pretrained(out).get_vocab() == AutoTokenizer.from_pretrained(pretrained["bert"]).get_vocab()
    )
    encoder = LinkBertForPreTraining.from_pretrained(out).bert.state_dict()
    start = LinkBertForPreTraining.from_pretrained(pretrained["bert"]).bert.state_dict()
    assert not torch.equal(
        encoder["encoder.layer.0.attention.self.query.weight"], start["encoder.layer.0.attention.self.query.weight"]
    )
    for head in (
        AutoModelForSequenceClassification.from_pretrained(out, num_labels=2),
        AutoModelForQuestionAnswering.from_pretrained(out),
    ):
        loaded = head.bert.state_dict()
        for name, value in encoder.items():
            if name in loaded:  # the QA model has no pooler
                torch.testing.assert_close(loaded[name], value, msg=name)
        assert set(loaded) <= set(encoder)


@pytest.mark.slow
def test_checkpoint_fine_tunes_with_run_seqcls(pretrained, tmp_path):
    rng = random.Random(1)
    towns = {t: i % 2 for i, t in enumerate(TOWNS)}  # a made-up binary property of each town

    def example(i):
        town = rng.choice(TOWNS)
        return {"id": f"e{i}", "sentence": f"{rng.choice(PEOPLE)} lives in {town}.", "label": towns[town]}

    train = write_jsonl(tmp_path / "train.json", [example(i) for i in range(48)])
    dev = write_jsonl(tmp_path / "dev.json", [example(i) for i in range(48, 64)])
    out = tmp_path / "seqcls"
    argv = flags(
        model_name_or_path=pretrained["out"],
        train_file=train,
        validation_file=dev,
        do_train=True,
        do_eval=True,
        output_dir=out,
        max_seq_length="64",
        per_device_train_batch_size="8",
        num_train_epochs="1",
        report_to="none",
        save_strategy="no",
        disable_tqdm="true",
    )
    assert run_seqcls(argv) == 0
    results = json.loads((out / "eval_results.json").read_text())
    predictions = read_jsonl(out / "eval_predictions.jsonl")
    assert len(predictions) == 16
    accuracy = sum(str(p["prediction"]) == str(p["label"]) for p in predictions) / len(predictions)
    assert math.isclose(results["eval_accuracy"], accuracy)


@pytest.mark.slow
def test_from_scratch_with_streaming(pretrained, tmp_path):
    out = tmp_path / "scratch"
    argv = flags(
        config_name=pretrained["bert"] / "config.json",
        tokenizer_name=pretrained["bert"],
        train_dir=pretrained["pairs"],
        output_dir=out,
        max_steps="4",
        per_device_train_batch_size="8",
        logging_steps="2",
        save_steps="2",
        streaming=True,
        shuffle_buffer_size="32",
        bf16=True,
    )
    assert run_pretrain(argv) == 0
    assert json.loads((out / "checkpoint-4" / "trainer_state.json").read_text())["global_step"] == 4
    # from scratch: the weights are not BERT's
    scratch = LinkBertForPreTraining.from_pretrained(out).bert.embeddings.word_embeddings.weight
    assert not torch.allclose(
        scratch,
        LinkBertForPreTraining.from_pretrained(pretrained["bert"]).bert.embeddings.word_embeddings.weight,
        atol=1e-2,
    )
    assert len(read_jsonl(out / "pretrain_log.jsonl")) == 2


@pytest.mark.parametrize(
    "nproc,nnodes,per_device,accumulation", [("1", "1", 32, 64), ("4", "1", 32, 16), ("8", "16", 16, 1)]
)
def test_recipe_derives_the_global_batch_of_2048(nproc, nnodes, per_device, accumulation):
    env = dict(
        os.environ, DRY_RUN="1", NPROC=nproc, NNODES=nnodes, MODEL_PATH="ckpt", DATA_DIR="pairs", OUTPUT_DIR="out"
    )
    run = subprocess.run(
        ["bash", str(REPO / "run_pretrain_linkbert-base.sh")], env=env, capture_output=True, text=True, check=True
    )
    summary, command = run.stdout.splitlines()
    assert f"per-device {per_device} x accumulation {accumulation}" in summary
    assert per_device * accumulation * int(nproc) * int(nnodes) == 2048
    words = command.split()
    assert words[0] == ("torchrun" if (nproc, nnodes) != ("1", "1") else "python")
    for flag, value in [
        ("--max_steps", "40000"),
        ("--learning_rate", "3e-4"),
        ("--warmup_steps", "5000"),
        ("--adam_beta2", "0.98"),
        ("--weight_decay", "0.01"),
        ("--per_device_train_batch_size", str(per_device)),
        ("--gradient_accumulation_steps", str(accumulation)),
    ]:
        assert words[words.index(flag) + 1] == value
    assert "--bf16" in words


def test_demo_hook_runs(tmp_path):
    from linkbert.pretrain.demo import run_pretrain_demo

    out = run_pretrain_demo(tmp_path / "demo", steps=6)
    assert out["results"]["global_step"] == 6 and math.isfinite(out["results"]["loss"])
    assert (
        out["manifest"]["corpus_stats"]["links_dropped_unknown"] == 1
        and out["manifest"]["corpus_stats"]["documents"] == 30
    )


@pytest.mark.slow
def test_entry_scripts_answer_help_when_run_from_another_directory(tmp_path):
    for script in ("build_pairs.py", "run_pretrain.py", "convert_wikipedia.py", "convert_pubmed.py"):
        run = subprocess.run(
            [sys.executable, str(REPO / "src" / "pretrain" / script), "--help"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
        )
        assert run.returncode == 0 and "usage" in run.stdout, run.stderr
