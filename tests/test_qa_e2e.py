"""run_qa.py end to end on the tiny model: windows, training, decoding, EM/F1 from the written files."""

import collections
import json
import re
import string

import pytest
from helpers import make_qa_splits, qa_args, read_jsonl, run_qa, write_jsonl


def normalize(text):
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def token_f1(prediction, gold):
    p, g = normalize(prediction).split(), normalize(gold).split()
    common = sum((collections.Counter(p) & collections.Counter(g)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


@pytest.fixture()
def qa_splits(tmp_path):
    return make_qa_splits(tmp_path)


@pytest.mark.slow
def test_qa_run_reports_f1_recomputed_from_its_predictions(tiny_model, qa_splits, tmp_path):
    out = tmp_path / "out"
    assert run_qa(qa_args(tiny_model, qa_splits, out)) == 0
    for prefix, split, key in (("eval", "dev", "eval"), ("predict", "test", "test")):
        results = json.loads((out / f"{prefix}_results.json").read_text())
        records = read_jsonl(out / f"{prefix}_predictions.jsonl")
        gold = read_jsonl(qa_splits[split])
        assert [r["id"] for r in records] == [g["id"] for g in gold]
        by_id = json.loads((out / f"{prefix}_predictions.json").read_text())
        assert by_id == {r["id"]: r["prediction"] for r in records}
        nbest = json.loads((out / f"{prefix}_nbest_predictions.json").read_text())
        assert all(nbest[r["id"]][0]["text"] == r["prediction"] for r in records)
        f1 = 100 * sum(max(token_f1(r["prediction"], g) for g in r["label"]) for r in records) / len(records)
        em = (
            100
            * sum(max(float(normalize(r["prediction"]) == normalize(g)) for g in r["label"]) for r in records)
            / len(records)
        )
        assert results[f"{key}_f1"] == pytest.approx(f1)
        assert results[f"{key}_exact_match"] == pytest.approx(em)
        # every prediction is a piece of its own context (decoding maps offsets back to text)
        contexts = {g["id"]: g["context"] for g in gold}
        assert all(r["prediction"] in contexts[r["id"]] for r in records)
        # as in the original, the sample count is of windows, not questions: most contexts here
        # (28-88 words) do not fit one 48-token window
        assert results[f"{prefix}_samples"] > len(gold)
    # evaluation during training ran (eval_steps 10 over 3 epochs of >= 6 window batches)
    history = json.loads((out / "trainer_state.json").read_text())["log_history"]
    assert any("eval_f1" in entry for entry in history)


def test_span_mismatch_is_an_error_when_asked(tiny_model, qa_splits, tmp_path, capsys):
    records = read_jsonl(qa_splits["dev"])
    records[2]["answers"]["answer_start"] = [0]
    write_jsonl(qa_splits["dev"], records)
    assert run_qa(qa_args(tiny_model, qa_splits, tmp_path / "out", "--on_span_mismatch", "error")) == 2
    err = capsys.readouterr().err
    assert "dev.json:3" in err and "answers.answer_start" in err


@pytest.mark.parametrize(
    "change,fragment",
    [
        (lambda r: r.pop("question"), "field 'question': missing"),
        (lambda r: r.update(context="   "), "field 'context': empty"),
        (lambda r: r.update(answers={"text": ["x"]}), "field 'answers.answer_start'"),
    ],
)
def test_bad_qa_records_are_named(tiny_model, qa_splits, tmp_path, capsys, change, fragment):
    records = read_jsonl(qa_splits["train"])
    change(records[4])
    write_jsonl(qa_splits["train"], records)
    assert run_qa(qa_args(tiny_model, qa_splits, tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert "train.json:5" in err and fragment in err
    assert not (tmp_path / "out").exists()
