"""Gradient accumulation changes nothing but memory: one optimizer step over the same 8 examples as
(batch 8, accumulation 1) and as (batch 2, accumulation 4) gives the same gradient and the same
logged train loss, for every fine-tuning head and for pretraining.

As in the original (transformers 4.9), the loss of a step is the mean of its micro-batches' mean
losses. That equals the full-batch mean when every micro-batch holds the same number of loss terms,
which the data below guarantees (NER: every word is one word piece, every sentence five words).
The optimizer is plain SGD with a constant learning rate and no clipping, so the weight change of
the step is exactly -lr x gradient; dropout is off so both runs compute the same function.
"""

import json
import random

import pytest
import torch
from helpers import VOCAB_TEXT, load_entry_point, write_jsonl
from safetensors.torch import load_file

from linkbert.cli import flags
from linkbert.tools.tiny_bert import build_tiny_bert

WORDS = "the protein binds gene growth tumor cells patients with chronic disease study".split()
LEARNING_RATE = 0.5


@pytest.fixture(scope="module")
def still_model(tmp_path_factory):
    """The tiny BERT with dropout off, so micro-batches and the full batch see the same function."""
    return build_tiny_bert(
        tmp_path_factory.mktemp("still") / "bert", VOCAB_TEXT * 20, vocab_size=200, dropout=0.0, seed=1
    )


def sentence(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def seqcls_records(rng):
    return [
        {"id": f"r{i}", "sentence": sentence(rng, rng.randint(3, 9)), "label": rng.choice(["0", "CPR:3", "CPR:4"])}
        for i in range(8)
    ]


def regression_records(rng):
    return [
        {
            "id": f"s{i}",
            "sentence1": sentence(rng, 4),
            "sentence2": sentence(rng, rng.randint(2, 7)),
            "label": rng.uniform(0, 5),
        }
        for i in range(8)
    ]


def multilabel_records(rng):
    return [
        {"id": f"{i}_0", "sentence": sentence(rng, rng.randint(3, 8)), "label": [rng.randint(0, 1) for _ in range(3)]}
        for i in range(8)
    ]


def ner_records(rng):
    # WORDS are whole words of the tiny vocabulary: one piece each, five labelled tokens per sentence
    return [
        {
            "id": f"n{i}",
            "tokens": [rng.choice(WORDS) for _ in range(5)],
            "ner_tags": [rng.choice(["O", "B-Chem", "I-Chem"]) for _ in range(5)],
        }
        for i in range(8)
    ]


def mc_records(rng):
    return [
        {
            "id": f"q{i}",
            "sent1": sentence(rng, 5),
            "sent2": "",
            **{f"ending{k}": sentence(rng, rng.randint(1, 3)) for k in range(4)},
            "label": rng.randint(0, 3),
        }
        for i in range(8)
    ]


def qa_records(rng):
    records = []
    for i in range(8):
        answer = rng.choice(["alpha", "beta", "gamma", "delta"])
        context = f"{sentence(rng, rng.randint(3, 8))} the answer is {answer} . {sentence(rng, 3)}"
        records.append(
            {
                "id": f"a{i}",
                "question": f"what is {sentence(rng, 2)} ?",
                "context": context,
                "answers": {"text": [answer], "answer_start": [context.index(f"is {answer}") + 3]},
            }
        )
    return records


# head -> (entry script, records, flags of the task)
HEADS = {
    "seqcls-single-label": ("seqcls/run_seqcls.py", seqcls_records, []),
    "seqcls-regression": ("seqcls/run_seqcls.py", regression_records, []),
    "seqcls-multi-label": ("seqcls/run_seqcls.py", multilabel_records, ["--metric_name", "hoc"]),
    "ner": ("tokcls/run_ner.py", ner_records, []),
    "multiple-choice": ("mc/run_multiple_choice.py", mc_records, []),
    "qa": ("qa/run_qa.py", qa_records, ["--doc_stride", "16"]),  # contexts fit one 64-token window
}


def one_step(script, model, train_file, out, batch, accumulation, extra):
    argv = [
        *flags(
            model_name_or_path=model,
            train_file=train_file,
            do_train=True,
            output_dir=out,
            max_seq_length="64",
            per_device_train_batch_size=batch,
            gradient_accumulation_steps=accumulation,
            max_steps="1",
            optim="sgd",
            learning_rate=LEARNING_RATE,
            lr_scheduler_type="constant",
            max_grad_norm="1e9",
            logging_steps="1",
            save_strategy="no",
            report_to="none",
            disable_tqdm="true",
            log_level="warning",
            seed="7",
        ),
        *extra,
    ]
    assert load_entry_point(script)(argv) == 0
    step_log = next(
        entry for entry in json.loads((out / "trainer_state.json").read_text())["log_history"] if "loss" in entry
    )
    train_loss = json.loads((out / "train_results.json").read_text())["train_loss"]
    return load_file(out / "model.safetensors"), step_log, train_loss


@pytest.mark.parametrize("head", list(HEADS))
def test_accumulated_step_equals_full_batch_step(still_model, tmp_path, head):
    script, make_records, extra = HEADS[head]
    train_file = write_jsonl(tmp_path / "train.json", make_records(random.Random(head)))
    full, full_log, full_loss = one_step(script, still_model, train_file, tmp_path / "full", 8, 1, extra)
    accumulated, accumulated_log, accumulated_loss = one_step(
        script, still_model, train_file, tmp_path / "accumulated", 2, 4, extra
    )

    # the logged loss of the step is the per-step mean (before the fix it was 4x with accumulation 4)
    assert accumulated_loss == pytest.approx(full_loss, rel=1e-5)
    assert accumulated_log["loss"] == pytest.approx(full_log["loss"], rel=1e-4)
    # the gradient: its norm before clipping, as logged, and every component through the SGD update
    assert accumulated_log["grad_norm"] == pytest.approx(full_log["grad_norm"], rel=1e-4)
    assert full_log["grad_norm"] > 1e-5
    initial = load_file(still_model / "model.safetensors")
    moved = 0
    for name, weight in full.items():
        torch.testing.assert_close(accumulated[name], weight, rtol=1e-4, atol=1e-6, msg=name)
        if name in initial:
            moved += int(not torch.equal(weight, initial[name]))
    assert moved > 0  # the step did change the shared encoder weights


class FixedMicroBatches:
    """The pretraining loader, reduced to handing out consecutive slices of one fixed batch: every
    row the same length with exactly two masked tokens, so each micro-batch's MLM mean has as many
    terms as every other's."""

    def __init__(self, batch, size):
        self.batch, self.size, self.position = batch, size, 0

    def next_batch(self):
        rows = slice(self.position, self.position + self.size)
        self.position += self.size
        return {key: value[rows] for key, value in self.batch.items()}


def pretraining_batch(vocab_size, rows=8, length=12):
    generator = torch.Generator().manual_seed(3)
    input_ids = torch.randint(5, vocab_size, (rows, length), generator=generator)
    input_ids[:, 0], input_ids[:, -1] = 2, 3  # [CLS] ... [SEP]
    labels = torch.full_like(input_ids, -100)
    for row in range(rows):
        for position in (1 + row % 5, 6 + row % 4):
            labels[row, position] = input_ids[row, position]
            input_ids[row, position] = 4  # [MASK]
    return {
        "input_ids": input_ids,
        "token_type_ids": torch.zeros_like(input_ids),
        "attention_mask": torch.ones_like(input_ids),
        "labels": labels,
        "drp_labels": torch.arange(rows) % 3,
    }


def pretraining_step(config, batch, per_device, accumulation):
    from linkbert.pretrain.args import PretrainArguments
    from linkbert.pretrain.distributed import Dist
    from linkbert.pretrain.meter import Meter
    from linkbert.pretrain.model import from_config
    from linkbert.pretrain.train import train_step

    model = from_config(config, seed=0).train()
    initial = {name: value.clone() for name, value in model.state_dict().items()}
    args = PretrainArguments(
        train_dir="unused",
        output_dir="unused",
        config_name="unused",
        tokenizer_name="unused",
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=accumulation,
        max_grad_norm=0,
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    meter = Meter(torch.device("cpu"))
    norm = train_step(
        model, FixedMicroBatches(batch, per_device), optimizer, None, meter, LEARNING_RATE, args, Dist()
    ).item()
    return model.state_dict(), initial, norm, meter.result(Dist())


def test_pretraining_accumulated_step_equals_full_batch_step(still_model):
    from transformers import BertConfig

    config = BertConfig.from_pretrained(still_model)
    batch = pretraining_batch(config.vocab_size)
    full, initial, full_norm, full_log = pretraining_step(config, batch, 8, 1)
    accumulated, _, accumulated_norm, accumulated_log = pretraining_step(config, batch, 2, 4)
    for key in ("loss", "mlm_loss", "drp_loss"):
        assert accumulated_log[key] == pytest.approx(full_log[key], rel=1e-5), key
    assert accumulated_norm == pytest.approx(full_norm, rel=1e-4) and full_norm > 1e-3
    for name, weight in full.items():
        torch.testing.assert_close(accumulated[name], weight, rtol=1e-4, atol=1e-6, msg=name)
    assert not torch.equal(
        full["bert.encoder.layer.0.attention.self.query.weight"],
        initial["bert.encoder.layer.0.attention.self.query.weight"],
    )
