"""Prediction on new, unlabelled text: every entry script predicts from a fine-tuned checkpoint with
only --test_file and --do_predict, on a file whose records have no label field. The label set comes
from the checkpoint's config (sequence classification, NER), the option count from the records
(multiple choice); nothing is scored. Each task is fine-tuned once per module on the synthetic data
of helpers.py, then its test split is predicted again with the labels removed, and the two
predictions files must agree record by record.
"""

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from helpers import (
    FAST_FLAGS,
    assert_one_line_error,
    make_mc_splits,
    make_ner_splits,
    make_qa_splits,
    make_seqcls_splits,
    mc_run,
    multilabel_example,
    ner_run,
    noise,
    qa_args,
    read_jsonl,
    relation_example,
    run_mc,
    run_ner,
    run_qa,
    run_seqcls,
    seqcls_run,
    write_jsonl,
)

from linkbert.cli import flags
from linkbert.finetune.tasks.tokcls import entity_spans

# the flags of each task's fine-tuning run (helpers.py) that shape its inputs, so that predicting
# again builds the same batches
SEQCLS_FLAGS = flags(max_seq_length=64)
NER_FLAGS = flags(max_seq_length=64, per_device_eval_batch_size=5)
QA_FLAGS = flags(max_seq_length=48, doc_stride=16)
MC_FLAGS = flags(max_seq_length=32, per_device_eval_batch_size=6)


@dataclass
class Finetuned:
    model: Path  # the fine-tuned output folder, also the checkpoint to predict with
    paths: dict[str, Path]  # its train/dev/test files

    def labelled_predictions(self) -> list[dict]:
        return read_jsonl(self.model / "predict_predictions.jsonl")


def unlabelled_copy(path: Path, field: str, target: Path) -> Path:
    """`path`'s records without `field`, written to `target`."""
    return write_jsonl(target, [{k: v for k, v in r.items() if k != field} for r in read_jsonl(path)])


def predict(entry, model: Path, test_file: Path, out: Path, *extra: str) -> int:
    """Only --test_file and --do_predict: no train file, no training."""
    argv = [
        *flags(model_name_or_path=model, test_file=test_file, do_predict=True, output_dir=out),
        *FAST_FLAGS,
        *extra,
    ]
    return entry(argv)


def assert_predicted_without_metrics(out: Path, caplog) -> None:
    """predict_results.json holds counts and timings only, and the run said the file has no labels."""
    results = json.loads((out / "predict_results.json").read_text())
    assert results["predict_samples"] > 0
    timing = ("_runtime", "_per_second", "_preparation_time")
    assert all(key in ("predict_samples", "epoch") or key.endswith(timing) for key in results), results
    assert "has no labels" in caplog.text
    assert not (out / "eval_results.json").exists()


def assert_same_probabilities(mine: list, theirs: list) -> None:
    """Per record probabilities (dicts keyed by name, or lists) equal up to float noise: the two runs
    load the same weights, one from memory after training and one from disk."""
    if mine and isinstance(mine[0], dict):
        assert [list(row) for row in mine] == [list(row) for row in theirs]
        mine, theirs = [list(row.values()) for row in mine], [list(row.values()) for row in theirs]
    np.testing.assert_allclose(np.asarray(mine, dtype=np.float64), np.asarray(theirs, dtype=np.float64), atol=1e-5)


def assert_probabilities(values) -> None:
    values = np.asarray(values, dtype=np.float64)
    assert ((values >= 0) & (values <= 1)).all()
    assert values.sum() == pytest.approx(1.0, abs=1e-6)


# ---------------------------------------------------------------- fine-tuned once per module
# (a few seconds each, paid by the first test that asks: the tests using them are marked slow)


@pytest.fixture(scope="module")
def relation_model(tiny_model, tmp_path_factory) -> Finetuned:
    root = tmp_path_factory.mktemp("relation")
    paths = make_seqcls_splits(root, relation_example)
    assert seqcls_run(tiny_model, paths, root / "model", epochs=16, lr="3e-3") == 0
    return Finetuned(root / "model", paths)


@pytest.fixture(scope="module")
def multilabel_model(tiny_model, tmp_path_factory) -> Finetuned:
    root = tmp_path_factory.mktemp("multilabel")
    paths = make_seqcls_splits(root, multilabel_example)
    assert seqcls_run(tiny_model, paths, root / "model", "--metric_name", "hoc", epochs=10, lr="5e-3") == 0
    return Finetuned(root / "model", paths)


def regression_example(rng, i):
    level = rng.randint(0, 4)
    word = ["alpha", "beta", "gamma", "delta", "red"][level]
    return {"id": f"s{i}", "sentence": f"{word} {noise(rng)}", "label": float(level)}


@pytest.fixture(scope="module")
def regression_model(tiny_model, tmp_path_factory) -> Finetuned:
    root = tmp_path_factory.mktemp("regression")
    paths = make_seqcls_splits(root, regression_example, sizes=(32, 8, 8))
    assert seqcls_run(tiny_model, paths, root / "model", "--metric_name", "pearsonr", epochs=1) == 0
    return Finetuned(root / "model", paths)


@pytest.fixture(scope="module")
def ner_model(tiny_model, tmp_path_factory) -> Finetuned:
    root = tmp_path_factory.mktemp("ner")
    paths = make_ner_splits(root)
    assert ner_run(tiny_model, paths, root / "model") == 0
    return Finetuned(root / "model", paths)


@pytest.fixture(scope="module")
def qa_model(tiny_model, tmp_path_factory) -> Finetuned:
    root = tmp_path_factory.mktemp("qa")
    paths = make_qa_splits(root)
    assert run_qa(qa_args(tiny_model, paths, root / "model", "--evaluation_strategy", "no")) == 0
    return Finetuned(root / "model", paths)


@pytest.fixture(scope="module")
def mc_model(tiny_model, tmp_path_factory) -> Finetuned:
    root = tmp_path_factory.mktemp("mc")
    paths = make_mc_splits(root)
    assert mc_run(tiny_model, paths, root / "model") == 0
    return Finetuned(root / "model", paths)


# ---------------------------------------------------------------- sequence classification


@pytest.mark.slow
def test_seqcls_predicts_label_names_and_softmax_from_the_checkpoint(relation_model, tmp_path, caplog):
    new = unlabelled_copy(relation_model.paths["test"], "label", tmp_path / "new.json")
    out = tmp_path / "predict"
    assert predict(run_seqcls, relation_model.model, new, out, *SEQCLS_FLAGS) == 0
    names = list(json.loads((relation_model.model / "config.json").read_text())["id2label"].values())
    assert sorted(names) == ["0", "CPR:3", "CPR:4"]
    records = read_jsonl(out / "predict_predictions.jsonl")
    for record in records:
        assert set(record) == {"id", "prediction", "probabilities"}  # no label invented
        assert record["prediction"] in names
        assert list(record["probabilities"]) == names
        assert_probabilities(list(record["probabilities"].values()))
        assert record["prediction"] == max(record["probabilities"], key=record["probabilities"].get)
    assert len({record["prediction"] for record in records}) > 1  # the model learned something
    assert_predicted_without_metrics(out, caplog)

    # the labelled run predicted the same records alike, and got the probabilities too
    labelled = relation_model.labelled_predictions()
    assert [(r["id"], r["prediction"]) for r in records] == [(r["id"], r["prediction"]) for r in labelled]
    assert [r["label"] for r in labelled] == [r["label"] for r in read_jsonl(relation_model.paths["test"])]
    assert_same_probabilities([r["probabilities"] for r in records], [r["probabilities"] for r in labelled])


@pytest.mark.slow
def test_seqcls_labelled_test_file_without_train_file_is_scored_as_before(relation_model, tmp_path):
    out = tmp_path / "predict"
    assert predict(run_seqcls, relation_model.model, relation_model.paths["test"], out, *SEQCLS_FLAGS) == 0
    results = json.loads((out / "predict_results.json").read_text())
    before = json.loads((relation_model.model / "predict_results.json").read_text())
    assert results["test_accuracy"] == pytest.approx(before["test_accuracy"])
    records, labelled = read_jsonl(out / "predict_predictions.jsonl"), relation_model.labelled_predictions()
    assert [(r["id"], r["prediction"], r["label"]) for r in records] == [
        (r["id"], r["prediction"], r["label"]) for r in labelled
    ]
    assert_same_probabilities([r["probabilities"] for r in records], [r["probabilities"] for r in labelled])


@pytest.mark.slow
def test_seqcls_multilabel_predicts_the_names_whose_sigmoid_is_above_one_half(multilabel_model, tmp_path, caplog):
    new = unlabelled_copy(multilabel_model.paths["test"], "label", tmp_path / "new.json")
    out = tmp_path / "predict"
    assert predict(run_seqcls, multilabel_model.model, new, out, *SEQCLS_FLAGS) == 0  # no --metric_name needed
    names = list(json.loads((multilabel_model.model / "config.json").read_text())["id2label"].values())
    assert len(names) == 4
    records = read_jsonl(out / "predict_predictions.jsonl")
    for record in records:
        assert set(record) == {"id", "prediction", "probabilities"}
        assert list(record["probabilities"]) == names
        assert all(0 <= value <= 1 for value in record["probabilities"].values())
        assert record["prediction"] == [name for name, value in record["probabilities"].items() if value > 0.5]
    assert any(record["prediction"] for record in records)
    assert_predicted_without_metrics(out, caplog)

    # the labelled run writes multi-hot predictions beside its multi-hot labels: the same classes
    labelled = multilabel_model.labelled_predictions()
    assert [r["prediction"] for r in records] == [
        [name for name, on in zip(names, r["prediction"], strict=True) if on] for r in labelled
    ]
    assert_same_probabilities([r["probabilities"] for r in records], [r["probabilities"] for r in labelled])


@pytest.mark.slow
def test_seqcls_regression_predicts_a_number(regression_model, tmp_path, caplog):
    new = unlabelled_copy(regression_model.paths["test"], "label", tmp_path / "new.json")
    out = tmp_path / "predict"
    assert predict(run_seqcls, regression_model.model, new, out, *SEQCLS_FLAGS) == 0
    records = read_jsonl(out / "predict_predictions.jsonl")
    assert all(set(r) == {"id", "prediction"} and isinstance(r["prediction"], float) for r in records)
    labelled = regression_model.labelled_predictions()
    assert [r["prediction"] for r in records] == pytest.approx([r["prediction"] for r in labelled])
    assert_predicted_without_metrics(out, caplog)


# ---------------------------------------------------------------- NER


def read_bio(tags: list[str]) -> list[tuple[str, int, int]]:
    """(type, first word, last word + 1) of each entity as seqeval's default mode reads BIO tags: an
    entity starts at B-X, or at I-X after anything but a tag of type X, and goes on over I-X."""
    spans, open_span = [], None
    for index, tag in enumerate([*tags, "O"]):
        prefix, kind = (tag.split("-", 1) + [""])[:2] if tag != "O" else ("O", "")
        continues = open_span is not None and prefix == "I" and kind == open_span[0]
        if open_span is not None and not continues:
            spans.append((open_span[0], open_span[1], index))
            open_span = None
        if prefix in ("B", "I") and not continues:
            open_span = (kind, index)
    return spans


def test_entity_spans_read_bio_tags_with_character_offsets():
    words = ["Metformin", "and", "tumor", "cells", "bind", "kinase", "receptor"]
    tags = ["B-Chem", "O", "I-Dis", "I-Dis", "O", "B-Gene", "I-Chem"]
    spans = entity_spans(words, tags)
    assert spans == [
        {"type": "Chem", "start": 0, "end": 9, "text": "Metformin", "words": [0, 1]},
        {"type": "Dis", "start": 14, "end": 25, "text": "tumor cells", "words": [2, 4]},  # I- after O starts one
        {"type": "Gene", "start": 31, "end": 37, "text": "kinase", "words": [5, 6]},
        {"type": "Chem", "start": 38, "end": 46, "text": "receptor", "words": [6, 7]},  # a new type ends the last
    ]
    joined = " ".join(words)
    assert all(joined[s["start"] : s["end"]] == s["text"] for s in spans)
    assert [(s["type"], *s["words"]) for s in spans] == read_bio(tags)
    assert entity_spans(words[:2], ["O", "O"]) == []
    # no tag (None) for the words the model saw no piece of (a sentence cut at max_seq_length): read as O
    cut = [*tags[:3], None, None, None, None]
    assert entity_spans(words, cut) == [
        spans[0],
        {"type": "Dis", "start": 14, "end": 19, "text": "tumor", "words": [2, 3]},
    ]


@pytest.mark.slow
def test_ner_predicts_one_tag_per_word_and_entities_with_offsets(ner_model, tmp_path, caplog):
    new = unlabelled_copy(ner_model.paths["test"], "ner_tags", tmp_path / "new.json")
    out = tmp_path / "predict"
    assert predict(run_ner, ner_model.model, new, out, *NER_FLAGS) == 0
    tags = set(json.loads((ner_model.model / "config.json").read_text())["id2label"].values())
    assert tags == {"O", "B-Chem", "B-Gene", "B-Dis", "I-Dis"}
    records = read_jsonl(out / "predict_predictions.jsonl")
    sentences = read_jsonl(new)
    for record, sentence in zip(records, sentences, strict=True):
        assert set(record) == {"id", "prediction", "entities"}
        words = sentence["tokens"]
        assert len(record["prediction"]) == len(words) and set(record["prediction"]) <= tags
        joined = " ".join(words)
        for entity in record["entities"]:
            first, stop = entity["words"]
            assert entity["text"] == joined[entity["start"] : entity["end"]] == " ".join(words[first:stop])
        assert [(e["type"], *e["words"]) for e in record["entities"]] == read_bio(record["prediction"])
    assert sum(len(record["entities"]) for record in records) > 0
    assert_predicted_without_metrics(out, caplog)

    labelled = ner_model.labelled_predictions()
    assert [(r["id"], r["prediction"], r["entities"]) for r in records] == [
        (r["id"], r["prediction"], r["entities"]) for r in labelled
    ]
    assert [r["label"] for r in labelled] == [s["ner_tags"] for s in read_jsonl(ner_model.paths["test"])]


@pytest.mark.slow
def test_ner_labelled_test_file_without_train_file_is_scored_as_before(ner_model, tmp_path):
    out = tmp_path / "predict"
    assert predict(run_ner, ner_model.model, ner_model.paths["test"], out, *NER_FLAGS) == 0
    results = json.loads((out / "predict_results.json").read_text())
    before = json.loads((ner_model.model / "predict_results.json").read_text())
    assert results["test_f1"] == pytest.approx(before["test_f1"])
    assert read_jsonl(out / "predict_predictions.jsonl") == ner_model.labelled_predictions()


@pytest.mark.slow
def test_ner_words_past_the_cut_of_a_long_sentence_get_no_tag(ner_model, tmp_path, caplog):
    long = {"id": "long", "tokens": ["aspirin", "binds", "kinase"] * 10}
    empty_word = {"id": "empty", "tokens": ["aspirin", "", "kinase"]}  # "" becomes no word piece at all
    new = write_jsonl(tmp_path / "new.json", [long, empty_word])
    out = tmp_path / "predict"
    assert predict(run_ner, ner_model.model, new, out, "--max_seq_length", "12") == 0
    cut, empty = read_jsonl(out / "predict_predictions.jsonl")
    assert len(cut["prediction"]) == 30 and len(empty["prediction"]) == 3  # one entry per word
    seen = [tag for tag in cut["prediction"] if tag is not None]
    assert 0 < len(seen) < 30 and cut["prediction"] == seen + [None] * (30 - len(seen))
    assert all(entity["words"][1] <= len(seen) for entity in cut["entities"])
    assert "1 of 2 sentences are longer than --max_seq_length allows" in caplog.text
    assert empty["prediction"][1] is None and None not in (empty["prediction"][0], empty["prediction"][2])


# ---------------------------------------------------------------- extractive QA


@pytest.mark.slow
def test_qa_predicts_answers_with_their_start_in_the_context(qa_model, tmp_path, caplog):
    new = unlabelled_copy(qa_model.paths["test"], "answers", tmp_path / "new.json")
    out = tmp_path / "predict"
    assert predict(run_qa, qa_model.model, new, out, *QA_FLAGS) == 0
    records = read_jsonl(out / "predict_predictions.jsonl")
    contexts = {r["id"]: r["context"] for r in read_jsonl(new)}
    for record in records:
        assert set(record) == {"id", "prediction", "answer_start", "score"}
        start, text = record["answer_start"], record["prediction"]
        assert contexts[record["id"]][start : start + len(text)] == text and text
        assert isinstance(record["score"], float)
    assert (out / "predict_nbest_predictions.json").is_file()
    assert_predicted_without_metrics(out, caplog)

    labelled = qa_model.labelled_predictions()
    assert [(r["id"], r["prediction"], r["answer_start"]) for r in records] == [
        (r["id"], r["prediction"], r["answer_start"]) for r in labelled
    ]
    assert [r["score"] for r in records] == pytest.approx([r["score"] for r in labelled], abs=1e-4)
    assert [r["label"] for r in labelled] == [r["answers"]["text"] for r in read_jsonl(qa_model.paths["test"])]


# ---------------------------------------------------------------- multiple choice


@pytest.mark.slow
def test_mc_predicts_an_option_and_its_softmax_without_a_train_file(mc_model, tmp_path, caplog):
    new = unlabelled_copy(mc_model.paths["test"], "label", tmp_path / "new.json")
    out = tmp_path / "predict"
    assert predict(run_mc, mc_model.model, new, out, *MC_FLAGS) == 0
    records = read_jsonl(out / "predict_predictions.jsonl")
    for record in records:
        assert set(record) == {"id", "prediction", "probabilities"}
        assert len(record["probabilities"]) == 4
        assert_probabilities(record["probabilities"])
        assert record["prediction"] == int(np.argmax(record["probabilities"]))
    assert_predicted_without_metrics(out, caplog)

    labelled = mc_model.labelled_predictions()
    assert [(r["id"], r["prediction"]) for r in records] == [(r["id"], r["prediction"]) for r in labelled]
    assert_same_probabilities([r["probabilities"] for r in records], [r["probabilities"] for r in labelled])

    # a labelled test file without a train file is scored as in the full run
    again = tmp_path / "again"
    assert predict(run_mc, mc_model.model, mc_model.paths["test"], again, *MC_FLAGS) == 0
    results = json.loads((again / "predict_results.json").read_text())
    before = json.loads((mc_model.model / "predict_results.json").read_text())
    assert results["test_accuracy"] == pytest.approx(before["test_accuracy"])


# ---------------------------------------------------------------- bad input: one line, nothing written
# (on the tiny model: the data is refused before any model is loaded)

TINY_SPLITS = {
    "seqcls": (run_seqcls, "label", lambda tmp: make_seqcls_splits(tmp, relation_example, sizes=(4, 4, 4))),
    "ner": (run_ner, "ner_tags", lambda tmp: make_ner_splits(tmp, sizes=(4, 4, 4))),
    "qa": (run_qa, "answers", lambda tmp: make_qa_splits(tmp / "data", sizes=(4, 4, 4))),
    "mc": (run_mc, "label", lambda tmp: make_mc_splits(tmp, sizes=(4, 4, 4))),
}


def tiny_copy(tiny_model: Path, tmp_path: Path, **config_changes) -> Path:
    """A copy of the tiny model whose config.json has `config_changes` (as if fine-tuned)."""
    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, **config_changes}))
    return model


CHECKPOINTS_WITHOUT_LABELS = [
    # (task, config changes of the tiny model, what the one line says)
    ("seqcls", {}, "its config names BertForPreTraining, not a ...ForSequenceClassification head"),
    ("ner", {}, "its config names BertForPreTraining, not a ...ForTokenClassification head"),
    ("seqcls", {"architectures": ["BertForSequenceClassification"]}, "no problem_type and no label names"),
    ("ner", {"architectures": ["BertForTokenClassification"]}, "no tag names: id2label is LABEL_0, LABEL_1"),
    (
        "ner",
        {"architectures": ["BertForSequenceClassification"], "id2label": {"0": "0", "1": "CPR:3"}},
        "its config names BertForSequenceClassification, not a ...ForTokenClassification head",
    ),
]


@pytest.mark.parametrize(
    "task,changes,says", CHECKPOINTS_WITHOUT_LABELS, ids=["seqcls-plain", "ner-plain", "seqcls", "ner", "ner-seqcls"]
)
def test_checkpoint_without_labels_needs_the_train_file(tiny_model, tmp_path, capsys, task, changes, says):
    """The tiny model is a plain pretrained BERT: no label map, no classification head."""
    entry, field, make = TINY_SPLITS[task]
    model = tiny_copy(tiny_model, tmp_path, **changes) if changes else tiny_model
    new = unlabelled_copy(make(tmp_path)["test"], field, tmp_path / "new.json")
    out = tmp_path / "out"
    assert predict(entry, model, new, out) == 2
    assert_one_line_error(
        capsys, [f"error: --train_file is required: the checkpoint {model} carries no label", says], out
    )


@pytest.mark.parametrize("task", TINY_SPLITS)
def test_partly_labelled_test_file_is_refused(tiny_model, tmp_path, capsys, task):
    entry, field, make = TINY_SPLITS[task]
    paths = make(tmp_path)
    records = read_jsonl(paths["test"])
    del records[2][field]  # line 3
    new = write_jsonl(tmp_path / "new.json", records)
    out = tmp_path / "out"
    # sequence classification and NER read their labels from the train file: the tiny model has none
    extra = flags(train_file=paths["train"]) if task in ("seqcls", "ner") else []
    assert predict(entry, tiny_model, new, out, *extra) == 2
    says = [f"new.json:3: field '{field}': missing, but the first record of this file has one"]
    assert_one_line_error(capsys, says, out)


def test_a_label_after_unlabelled_records_is_refused(tiny_model, tmp_path, capsys):
    test_file = make_mc_splits(tmp_path, sizes=(4, 4, 4))["test"]
    records = [{k: v for k, v in r.items() if k != "label"} for r in read_jsonl(test_file)]
    records[1]["label"] = 2
    new = write_jsonl(tmp_path / "new.json", records)
    out = tmp_path / "out"
    assert predict(run_mc, tiny_model, new, out) == 2
    assert_one_line_error(capsys, ["new.json:2: field 'label': given, but the first record of this file has none"], out)


def test_unlabelled_validation_file_is_refused(tiny_model, tmp_path, capsys):
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(4, 4, 4))
    new = unlabelled_copy(paths["dev"], "label", tmp_path / "dev.json")
    out = tmp_path / "out"
    argv = flags(train_file=paths["train"], validation_file=new, do_eval=True)
    assert predict(run_seqcls, tiny_model, paths["test"], out, *argv) == 2
    assert_one_line_error(capsys, ["dev.json:1: field 'label': missing (evaluation needs labels"], out)
