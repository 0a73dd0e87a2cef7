"""run_seqcls.py end to end on the tiny model: each label kind, learning, padding, bad input."""

import json

import numpy as np
import pytest
from helpers import (
    VOCAB_TEXT,
    assert_one_line_error,
    make_seqcls_splits,
    multilabel_example,
    noise,
    pair_example,
    read_jsonl,
    relation_example,
    seqcls_run,
    write_jsonl,
)
from sklearn.metrics import precision_recall_fscore_support

from linkbert.finetune.raw_outputs import load_raw_outputs
from linkbert.tools.tiny_bert import build_tiny_bert


def regression_example(rng, i):
    level = rng.randint(0, 4)
    word = ["alpha", "beta", "gamma", "delta", "red"][level]
    return {
        "sentence1": f"{word} {noise(rng)}",
        "sentence2": noise(rng),
        "label": float(level) + rng.choice([0.0, 0.5]),
        "id": f"s{i}",
    }


def results_and_predictions(out, prefix):
    results = json.loads((out / f"{'eval' if prefix == 'eval' else 'predict'}_results.json").read_text())
    return results, read_jsonl(out / f"{prefix}_predictions.jsonl")


def assert_common_outputs(out, paths):
    for name in (
        "all_results.json",
        "train_results.json",
        "eval_results.json",
        "predict_results.json",
        "config.json",
        "model.safetensors",
    ):
        assert (out / name).is_file(), name
    for prefix, split in (("eval", "dev"), ("predict", "test")):
        records = read_jsonl(out / f"{prefix}_predictions.jsonl")
        gold = read_jsonl(paths[split])
        assert [r["id"] for r in records] == [g["id"] for g in gold]
        assert [r["label"] for r in records] == [g["label"] for g in gold]


def test_single_label_prf1_matches_recomputation(tiny_model, tmp_path):
    paths = make_seqcls_splits(tmp_path, relation_example)
    out = tmp_path / "out"
    assert seqcls_run(tiny_model, paths, out, "--metric_name", "PRF1") == 0
    assert_common_outputs(out, paths)
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "0", "1": "CPR:3", "2": "CPR:4"}  # sorted train labels
    for prefix, key in (("eval", "eval"), ("predict", "test")):
        results, records = results_and_predictions(out, prefix)
        gold, pred = [r["label"] for r in records], [r["prediction"] for r in records]
        # sklearn's micro average restricted to the positive labels is the PRF1 definition
        p, r, f, _ = precision_recall_fscore_support(
            gold, pred, labels=["CPR:3", "CPR:4"], average="micro", zero_division=0
        )
        assert results[f"{key}_precision"] == pytest.approx(p)
        assert results[f"{key}_recall"] == pytest.approx(r)
        assert results[f"{key}_F1"] == pytest.approx(f)
    # the original's test outputs: raw logits [N, 3] and label ids, in the test file's order
    outputs = load_raw_outputs(out / "test_outputs.json")
    _, records = results_and_predictions(out, "predict")
    id2label = config["id2label"]
    logits = np.stack(outputs.predictions)
    assert logits.shape == (len(records), 3) and logits.dtype == np.float32
    assert [id2label[str(i)] for i in np.argmax(logits, axis=1)] == [r["prediction"] for r in records]
    assert [id2label[str(int(i))] for i in outputs.label_ids] == [r["label"] for r in records]
    assert not (out / "eval_outputs.json").exists()


@pytest.mark.slow
def test_pair_task_is_learned_well_above_chance(tiny_model, tmp_path):
    paths = make_seqcls_splits(tmp_path, pair_example, sizes=(96, 32, 32))
    out = tmp_path / "out"
    assert seqcls_run(tiny_model, paths, out, "--metric_name", "accuracy", epochs=12, lr="3e-3") == 0
    assert_common_outputs(out, paths)
    results, records = results_and_predictions(out, "predict")
    recomputed = np.mean([r["prediction"] == r["label"] for r in records])
    assert results["test_accuracy"] == pytest.approx(recomputed)
    assert results["test_accuracy"] >= 0.85  # chance is 0.5


def test_regression_pearson_matches_recomputation(tiny_model, tmp_path):
    paths = make_seqcls_splits(tmp_path, regression_example)
    out = tmp_path / "out"
    assert seqcls_run(tiny_model, paths, out, "--metric_name", "pearsonr") == 0
    assert_common_outputs(out, paths)
    config = json.loads((out / "config.json").read_text())
    assert config["problem_type"] == "regression"
    assert len(config["id2label"]) == 1  # one output: transformers 5 writes no num_labels, it is len(id2label)
    results, records = results_and_predictions(out, "predict")
    assert all(isinstance(r["prediction"], float) for r in records)
    expected = np.corrcoef([r["label"] for r in records], [r["prediction"] for r in records])[0, 1]
    assert results["test_pearsonr"] == pytest.approx(expected, abs=1e-6)


def test_multilabel_hoc_matches_document_level_recomputation(tiny_model, tmp_path):
    paths = make_seqcls_splits(tmp_path, multilabel_example)
    out = tmp_path / "out"
    assert seqcls_run(tiny_model, paths, out, "--metric_name", "hoc", epochs=3, lr="3e-3") == 0
    assert_common_outputs(out, paths)
    assert json.loads((out / "config.json").read_text())["problem_type"] == "multi_label_classification"
    results, records = results_and_predictions(out, "predict")
    docs_pred, docs_gold = {}, {}
    for r in records:
        doc = r["id"].split("_")[0]
        docs_pred.setdefault(doc, set()).update(i for i, v in enumerate(r["prediction"]) if v)
        docs_gold.setdefault(doc, set()).update(i for i, v in enumerate(r["label"]) if v)
    tp = sum(len(docs_pred[d] & docs_gold[d]) for d in docs_gold)
    n_pred, n_gold = sum(map(len, docs_pred.values())), sum(map(len, docs_gold.values()))
    precision, recall = (tp / n_pred if n_pred else 0.0), tp / n_gold
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    assert results["test_precision"] == pytest.approx(precision)
    assert results["test_recall"] == pytest.approx(recall)
    assert results["test_F1"] == pytest.approx(f1)


def test_dynamic_padding_gives_the_same_results_as_padding_to_max_length(tmp_path):
    """Our default pads each batch to its longest input; the original padded every input to
    max_seq_length. With the attention mask, the two runs must agree up to float noise. Plain SGD
    keeps that noise visible as noise (Adam divides tiny gradient differences by tiny second moments
    early in training and magnifies them to ~1e-3 after a dozen steps), and dropout is off because
    its random masks are drawn per padded position, so the two runs would draw different masks."""
    tiny_model = build_tiny_bert(tmp_path / "tiny", VOCAB_TEXT * 20, vocab_size=200, dropout=0.0, seed=0)
    paths = make_seqcls_splits(tmp_path, regression_example)
    dynamic, padded = tmp_path / "dynamic", tmp_path / "padded"
    assert seqcls_run(tiny_model, paths, dynamic, "--metric_name", "pearsonr", "--optim", "sgd", lr="5e-2") == 0
    assert (
        seqcls_run(
            tiny_model, paths, padded, "--metric_name", "pearsonr", "--optim", "sgd", "--pad_to_max_length", lr="5e-2"
        )
        == 0
    )
    a = [r["prediction"] for r in read_jsonl(dynamic / "predict_predictions.jsonl")]
    b = [r["prediction"] for r in read_jsonl(padded / "predict_predictions.jsonl")]
    np.testing.assert_allclose(a, b, atol=1e-4)
    ra, rb = (json.loads((d / "predict_results.json").read_text())["test_pearsonr"] for d in (dynamic, padded))
    assert ra == pytest.approx(rb, abs=5e-3)  # Pearson of near-constant early predictions magnifies 1e-5 noise


GOOD = {"id": "x", "sentence": "the protein binds", "label": "CPR:3"}
BAD_INPUTS = [
    # (split to corrupt, lines of that file, expected fragments of the one-line error)
    ("train", ["GOOD", "GOOD", "{not json"], ["train.json:3", "not valid JSON"]),
    ("train", ["GOOD", {"id": "y", "label": "0"}], ["train.json:2", "field 'sentence'", "missing"]),
    ("train", ["GOOD", {"id": "y", "sentence": "s"}], ["train.json:2", "field 'label'", "missing"]),
    (
        "train",
        ["GOOD", "GOOD", "GOOD", {"id": "y", "sentence": "s", "label": [0, 1]}],
        ["train.json:4", "field 'label'", "string label"],
    ),
    (
        "train",
        ["GOOD", {"id": "y", "sentence": 5, "label": "0"}],
        ["train.json:2", "field 'sentence'", "expected a string"],
    ),
    (
        "dev",
        ["GOOD", {"id": "y", "sentence": "s", "label": "CPR:9"}],
        ["dev.json:2", "field 'label'", "'CPR:9' never seen in train"],
    ),
    (
        "test",
        ["GOOD", "GOOD", {"id": "y", "sentence": "s", "label": 3}],
        ["test.json:3", "field 'label'", "never seen in train"],
    ),
    ("dev", [], ["dev.json", "empty"]),
]


@pytest.mark.parametrize("split,lines,fragments", BAD_INPUTS, ids=[f[0] for _, _, f in BAD_INPUTS])
def test_bad_input_is_one_clear_error_and_writes_nothing(tiny_model, tmp_path, capsys, split, lines, fragments):
    good = [dict(GOOD, id=f"g{i}", label=["0", "CPR:3"][i % 2]) for i in range(4)]
    paths = {name: write_jsonl(tmp_path / f"{name}.json", good) for name in ("train", "dev", "test")}
    text = "".join(
        (json.dumps(GOOD) if line == "GOOD" else line if isinstance(line, str) else json.dumps(line)) + "\n"
        for line in lines
    )
    paths[split].write_text(text)
    out = tmp_path / "out"
    assert seqcls_run(tiny_model, paths, out) == 2
    assert_one_line_error(capsys, fragments, out)


def test_missing_file_is_named(tiny_model, tmp_path, capsys):
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(8, 4, 4))
    paths["dev"] = tmp_path / "nowhere" / "dev.json"
    assert seqcls_run(tiny_model, paths, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert "nowhere/dev.json" in err and "file not found" in err and "--validation_file" in err


def test_unreachable_hub_gives_one_line_telling_what_to_do(tmp_path, capsys):
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(8, 4, 4))
    out = tmp_path / "out"
    assert seqcls_run("michiyasunaga/BioLinkBERT-base", paths, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "michiyasunaga/BioLinkBERT-base" in err[0] and "--model_name_or_path DIR" in err[0]


def test_non_empty_output_dir_needs_overwrite(tiny_model, tmp_path, capsys):
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(8, 4, 4))
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert seqcls_run(tiny_model, paths, out) == 2
    assert "--overwrite_output_dir" in capsys.readouterr().err
    assert seqcls_run(tiny_model, paths, out, "--overwrite_output_dir") == 0
    assert (out / "notes.txt").read_text() == "keep me" and (out / "predict_results.json").is_file()


def test_run_info_records_checkpoint_data_code_libraries_argv_and_batch(tiny_model, tmp_path):
    import hashlib

    import transformers

    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(16, 8, 8))
    out = tmp_path / "out"
    assert seqcls_run(tiny_model, paths, out, "--metric_name", "PRF1", "--gradient_accumulation_steps", "2") == 0
    info = json.loads((out / "run_info.json").read_text())
    config = json.loads((tiny_model / "config.json").read_text())
    assert info["checkpoint"]["name_or_path"] == str(tiny_model.resolve())
    assert info["checkpoint"]["config_sha256"] == hashlib.sha256((tiny_model / "config.json").read_bytes()).hexdigest()
    assert info["checkpoint"]["shape"] == {
        "model_type": "bert",
        "vocab_size": config["vocab_size"],
        "hidden_size": config["hidden_size"],
        "num_hidden_layers": config["num_hidden_layers"],
    }
    for split, name in (("train", "train"), ("validation", "dev"), ("test", "test")):
        recorded = info["data"][split]
        assert recorded["path"] == str(paths[name].resolve())
        assert recorded["sha256"] == hashlib.sha256(paths[name].read_bytes()).hexdigest()
    assert info["libraries"]["transformers"] == transformers.__version__
    assert "--gradient_accumulation_steps" in info["argv"] and str(out) in info["argv"]
    assert info["effective_batch"] == 8 * 2
    assert "commit" in info["code"]
