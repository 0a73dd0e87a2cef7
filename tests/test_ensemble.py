"""Seed ensembles: the mean of two runs' saved test logits, decoded and scored by the task, checked
against the ensemble recomputed by hand from the runs' own files."""

import json

import numpy as np
import pytest
from helpers import (
    REPO,
    load_module,
    make_ner_splits,
    make_seqcls_splits,
    ner_run,
    read_jsonl,
    relation_example,
    seqcls_run,
)
from seqeval.metrics import f1_score

from linkbert.finetune.raw_outputs import load_raw_outputs


def two_seeds(run, tmp_path, paths, *extra):
    outs = [tmp_path / f"seed{seed}" for seed in (1, 2)]
    for seed, out in zip((1, 2), outs, strict=True):
        assert run(paths, out, "--seed", str(seed), *extra) == 0
    return outs


def run_ensemble(argv) -> int:
    return load_module(REPO / "scripts" / "ensemble.py", "ensemble_script").main(argv)


def test_a_two_seed_classification_ensemble_is_the_argmax_of_the_mean_logits(tiny_model, tmp_path, capsys):
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(48, 8, 16))
    outs = two_seeds(lambda p, o, *e: seqcls_run(tiny_model, p, o, *e), tmp_path, paths, "--metric_name", "PRF1")
    assert run_ensemble([*map(str, outs), "--output_dir", str(tmp_path / "ensemble")]) == 0
    table = capsys.readouterr().out
    assert "ensemble (mean of logits)" in table and str(outs[0]) in table

    # by hand: mean of the two runs' logits, argmax, label names from the config, PRF1 over the
    # positive classes (the negative class "0" counts neither as prediction nor as gold)
    mean = np.mean([np.stack(load_raw_outputs(out / "test_outputs.json").predictions) for out in outs], axis=0)
    id2label = json.loads((outs[0] / "config.json").read_text())["id2label"]
    predicted = [id2label[str(i)] for i in mean.argmax(axis=1)]
    gold = [record["label"] for record in read_jsonl(paths["test"])]
    records = read_jsonl(tmp_path / "ensemble" / "ensemble_predictions.jsonl")
    assert [r["prediction"] for r in records] == predicted and [r["label"] for r in records] == gold
    hits = sum(p == g != "0" for p, g in zip(predicted, gold, strict=True))
    precision = hits / max(1, sum(p != "0" for p in predicted))
    recall = hits / max(1, sum(g != "0" for g in gold))
    f1 = 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)
    results = json.loads((tmp_path / "ensemble" / "ensemble_results.json").read_text())
    assert results["ensemble"]["test_F1"] == pytest.approx(f1)
    for out in outs:  # each member's own score, as its run wrote it
        own = json.loads((out / "predict_results.json").read_text())["test_F1"]
        assert results["members"][str(out)]["test_F1"] == pytest.approx(own)


@pytest.mark.slow
def test_a_two_seed_ner_ensemble_averages_each_tokens_logits(tiny_model, tmp_path):
    paths = make_ner_splits(tmp_path, sizes=(32, 8, 12))
    outs = two_seeds(lambda p, o, *e: ner_run(tiny_model, p, o, *e), tmp_path, paths)
    assert run_ensemble([*map(str, outs), "--output_dir", str(tmp_path / "ensemble")]) == 0
    members = [load_raw_outputs(out / "test_outputs.json") for out in outs]
    id2label = json.loads((outs[0] / "config.json").read_text())["id2label"]
    predicted = []
    for row in range(len(members[0].predictions)):
        mean = (members[0].predictions[row] + members[1].predictions[row]) / 2
        kept = members[0].label_ids[row] != -100  # each word's first piece
        predicted.append([id2label[str(i)] for i in mean[kept].argmax(axis=-1)])
    records = read_jsonl(tmp_path / "ensemble" / "ensemble_predictions.jsonl")
    assert [r["prediction"] for r in records] == predicted
    gold = [record["ner_tags"] for record in read_jsonl(paths["test"])]
    results = json.loads((tmp_path / "ensemble" / "ensemble_results.json").read_text())
    assert results["ensemble"]["test_f1"] == pytest.approx(f1_score(gold, predicted))


def test_runs_of_different_test_files_are_not_ensembled(tiny_model, tmp_path, capsys):
    first = make_seqcls_splits(tmp_path / "a", relation_example, sizes=(24, 4, 8), seed=0)
    second = make_seqcls_splits(tmp_path / "b", relation_example, sizes=(24, 4, 8), seed=1)
    assert seqcls_run(tiny_model, first, tmp_path / "one", "--metric_name", "PRF1") == 0
    assert seqcls_run(tiny_model, second, tmp_path / "two", "--metric_name", "PRF1") == 0
    capsys.readouterr()
    assert run_ensemble([str(tmp_path / "one"), str(tmp_path / "two")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "scored another test file" in err[0]
