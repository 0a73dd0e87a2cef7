"""run_multiple_choice.py and the multiple-choice task: option encoding, the collator, an end-to-end
run scored again from its predictions file, a predict-only run (the MMLU recipe) and bad input."""

import json

import numpy as np
import pytest
from helpers import assert_one_line_error, make_mc_splits, mc_run, read_jsonl, write_jsonl

from linkbert.finetune.args import DataArguments
from linkbert.finetune.raw_outputs import load_raw_outputs
from linkbert.finetune.tasks.mc import MultipleChoice

RECORDS = [
    {
        "id": "q0",
        "sent1": "does the drug reduce the dose",
        "sent2": "",
        "ending0": "yes",
        "ending1": "no",
        "ending2": "maybe",
        "ending3": "red blue",
        "label": 0,
    },
    {
        "id": "q1",
        "sent1": "which protein binds the gene",
        "sent2": "patients with",
        "ending0": "kinase",
        "ending1": "receptor expression",
        "ending2": "cat",
        "ending3": "dog",
        "label": 3,
    },
]


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def make_task(records=RECORDS, **flags) -> MultipleChoice:
    task = MultipleChoice(DataArguments(**flags))
    for record in records:
        task.check_record("train", record)
    task.finish_check("train")
    return task


def featurize(task, tokenizer, records=RECORDS):
    batch = {key: [r[key] for r in records] for key in records[0]}
    return task.featurize(batch, tokenizer, "train")


def segments(tokenizer, input_ids, token_type_ids):
    ids, types = np.array(input_ids), np.array(token_type_ids)
    return tokenizer.decode(ids[types == 0], skip_special_tokens=True), tokenizer.decode(
        ids[types == 1], skip_special_tokens=True
    )


def test_each_option_is_the_pair_question_then_header_and_ending(tokenizer):
    task = make_task()
    assert task.endings == ["ending0", "ending1", "ending2", "ending3"]
    features = featurize(task, tokenizer)
    assert features["labels"] == [0, 3]
    for row, record in enumerate(RECORDS):
        assert len(features["input_ids"][row]) == 4  # [example][option][token]
        for option in range(4):
            first, second = segments(
                tokenizer, features["input_ids"][row][option], features["token_type_ids"][row][option]
            )
            assert first == record["sent1"]
            # second segment = sent2 + " " + ending_i; an empty sent2 leaves just the ending
            assert second == f"{record['sent2']} {record[f'ending{option}']}".strip()


def test_long_pairs_are_truncated_to_max_seq_length(tokenizer):
    long = dict(
        RECORDS[1], sent1=" ".join(["the protein binds the gene"] * 6), ending1=" ".join(["receptor expression"] * 6)
    )
    features = featurize(make_task(max_seq_length=16), tokenizer, [long])
    lengths = [len(ids) for ids in features["input_ids"][0]]
    assert max(lengths) == 16
    # longest_first trims the longer segment first, so the short endings survive whole
    assert segments(tokenizer, features["input_ids"][0][2], features["token_type_ids"][0][2])[1] == "patients with cat"


def test_collator_pads_every_option_to_the_batch_longest_and_reshapes(tokenizer):
    task = make_task()
    features = featurize(task, tokenizer)
    rows = [{key: features[key][row] for key in features} for row in range(2)]
    longest = max(len(ids) for row in rows for ids in row["input_ids"])
    batch = task.collator(tokenizer, pad_to_multiple_of=8)(rows)
    width = -(-longest // 8) * 8
    assert batch["input_ids"].shape == (2, 4, width) and batch["attention_mask"].shape == (2, 4, width)
    assert batch["labels"].tolist() == [0, 3] and str(batch["labels"].dtype) == "torch.int64"
    for row in range(2):
        for option in range(4):
            length = len(rows[row]["input_ids"][option])
            assert batch["input_ids"][row, option, :length].tolist() == rows[row]["input_ids"][option]
            assert set(batch["input_ids"][row, option, length:].tolist()) <= {tokenizer.pad_token_id}
            assert batch["attention_mask"][row, option].sum().item() == length


# ---------------------------------------------------------------- end to end
# (mc_example, make_mc_splits and mc_run are in helpers.py: test_padding_free runs them too)


def test_mc_end_to_end_accuracy_matches_the_written_predictions(tiny_model, tmp_path):
    paths = make_mc_splits(tmp_path)
    out = tmp_path / "out"
    assert mc_run(tiny_model, paths, out) == 0
    for prefix, key, split in (("eval", "eval", "dev"), ("predict", "test", "test")):
        results = json.loads((out / f"{prefix}_results.json").read_text())
        records = read_jsonl(out / f"{prefix}_predictions.jsonl")
        gold = read_jsonl(paths[split])
        assert [(r["id"], r["label"]) for r in records] == [(g["id"], g["label"]) for g in gold]
        assert all(r["prediction"] in range(4) for r in records)
        assert results[f"{key}_accuracy"] == pytest.approx(np.mean([r["prediction"] == r["label"] for r in records]))
        assert results[f"{prefix}_samples"] == len(gold)
    # the original's predict outputs: option logits [N, 4] and label ids (index JSON + .npz)
    outputs = load_raw_outputs(out / "predict_outputs.json")
    records = read_jsonl(out / "predict_predictions.jsonl")
    assert np.argmax(np.stack(outputs.predictions), axis=1).tolist() == [r["prediction"] for r in records]
    assert [int(label) for label in outputs.label_ids] == [g["label"] for g in read_jsonl(paths["test"])]
    # "yes" marks the answer in 3 of 4 questions: far above chance (0.25), below 1
    assert 0.5 <= json.loads((out / "predict_results.json").read_text())["test_accuracy"] < 1.0

    # The MMLU recipe: predict only with the trained model (the train file it passes is not read)
    again = tmp_path / "again"
    assert mc_run(out, paths, again, train=False) == 0
    assert read_jsonl(again / "predict_predictions.jsonl") == read_jsonl(out / "predict_predictions.jsonl")
    assert not (again / "eval_results.json").exists()


GOOD = RECORDS[0]
BAD_INPUTS = [
    # (split to corrupt, its records, expected fragments of the one-line error)
    ("train", [GOOD, dict(GOOD, label=4)], ["train.json:2", "field 'label'", "0..3", "got 4"]),
    ("dev", [GOOD, dict(GOOD, label="B")], ["dev.json:2", "field 'label'", "index of the right option", "str"]),
    ("test", [GOOD, dict(GOOD, label=True)], ["test.json:2", "field 'label'", "bool"]),
    (
        "dev",
        [GOOD, {k: v for k, v in GOOD.items() if k != "ending3"}],
        ["dev.json:2", "field 'ending3'", "missing", "4 options"],
    ),
    (
        "train",
        [{k: v for k, v in GOOD.items() if not k.startswith("ending")}],
        ["train.json:1", "field 'ending0'", "found 0"],
    ),
    ("train", [dict(GOOD, sent1=None)], ["train.json:1", "field 'sent1'", "question"]),
]


@pytest.mark.parametrize("split,records,fragments", BAD_INPUTS, ids=[f"{s}-{f[1]}" for s, _, f in BAD_INPUTS])
def test_bad_input_is_one_clear_error_and_writes_nothing(tiny_model, tmp_path, capsys, split, records, fragments):
    paths = {name: write_jsonl(tmp_path / f"{name}.json", [GOOD, GOOD]) for name in ("train", "dev", "test")}
    write_jsonl(paths[split], records)
    out = tmp_path / "out"
    assert mc_run(tiny_model, paths, out) == 2
    assert_one_line_error(capsys, fragments, out)
