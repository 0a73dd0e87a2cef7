"""run_ner.py and the token-classification task: label alignment over word pieces, decoding of
padded outputs, an end-to-end run scored again from its predictions file, and bad input."""

import json

import numpy as np
import pytest
from helpers import assert_one_line_error, make_ner_splits, ner_example, ner_run, read_jsonl, write_jsonl
from seqeval.metrics import accuracy_score, classification_report, f1_score, precision_score, recall_score

from linkbert.finetune.data import Split
from linkbert.finetune.raw_outputs import load_raw_outputs
from linkbert.finetune.tasks.tokcls import TokClsDataArguments, TokenClassification

# sorted tags: B-Chem 0, B-Gene 1, I-Chem 2, O 3
SENTENCE = {
    "id": "s0",
    "tokens": ["metformin", "aspirin", "blocks", "kinase"],
    "ner_tags": ["B-Chem", "I-Chem", "O", "B-Gene"],
}
# A hand-written WordPiece vocabulary, so the splits are known (the tiny model's trained vocabulary
# breaks ties differently from run to run): metformin -> met ##formin, aspirin -> aspirin,
# blocks -> block ##s, kinase -> kin ##as ##e
PIECES = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "met",
    "##formin",
    "aspirin",
    "block",
    "##s",
    "kin",
    "##as",
    "##e",
]


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import BertTokenizerFast

    vocab = tmp_path_factory.mktemp("pieces") / "vocab.txt"
    vocab.write_text("\n".join(PIECES) + "\n")
    return BertTokenizerFast(vocab=str(vocab), model_max_length=512)


def make_task(records, **flags) -> TokenClassification:
    task = TokenClassification(TokClsDataArguments(**flags))
    for record in records:
        task.check_record("train", record)
    task.finish_check("train")
    return task


def featurize(task, tokenizer, records):
    batch = {key: [r[key] for r in records] for key in records[0]}
    return task.featurize(batch, tokenizer, "train")


def test_the_example_words_split_as_the_vocabulary_says(tokenizer):
    pieces = tokenizer(SENTENCE["tokens"], is_split_into_words=True).tokens()
    assert pieces == ["[CLS]", "met", "##formin", "aspirin", "block", "##s", "kin", "##as", "##e", "[SEP]"]


def test_first_piece_of_each_word_carries_its_tag(tokenizer):
    task = make_task([SENTENCE])
    assert task.label_list == ["B-Chem", "B-Gene", "I-Chem", "O"]
    labels = featurize(task, tokenizer, [SENTENCE])["labels"][0]
    # [CLS] met ##formin aspirin block ##s kin ##as ##e [SEP]
    assert labels == [-100, 0, -100, 2, 3, -100, 1, -100, -100, -100]


def test_label_all_tokens_repeats_the_tag_without_turning_b_into_i(tokenizer):
    task = make_task([SENTENCE], label_all_tokens=True)
    labels = featurize(task, tokenizer, [SENTENCE])["labels"][0]
    # metformin's second piece keeps B-Chem (0), as the original did (newer HF scripts make it I-)
    assert labels == [-100, 0, 0, 2, 3, 3, 1, 1, 1, -100]


def test_truncation_drops_the_words_that_do_not_fit(tokenizer):
    task = make_task([SENTENCE], max_seq_length=6)
    features = featurize(task, tokenizer, [SENTENCE])
    # [CLS] met ##formin aspirin block [SEP]: "blocks" keeps its first piece and is still evaluated
    # (as in the original); "kinase" is cut off entirely and never evaluated
    assert len(features["input_ids"][0]) == 6
    assert features["labels"][0] == [-100, 0, -100, 2, 3, -100]


def test_pad_to_max_length_pads_labels_with_minus_100(tokenizer):
    task = make_task([SENTENCE], max_seq_length=12, pad_to_max_length=True)
    features = featurize(task, tokenizer, [SENTENCE])
    assert features["labels"][0] == [-100, 0, -100, 2, 3, -100, 1, -100, -100, -100, -100, -100]
    assert features["attention_mask"][0] == [1] * 10 + [0] * 2


def test_score_follows_the_metric_flags():
    records = [{"id": "a", "prediction": ["B-Chem", "O"], "label": ["B-Chem", "B-Gene"]}]
    # Chem: 1 right of 1; Gene: missed -> micro P 1, R 1/2; macro F1 (1 + 0) / 2
    assert make_task([SENTENCE]).score(records) == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "accuracy": 0.5}
    )
    assert make_task([SENTENCE], return_macro_metrics=True).score(records)["macro_f1"] == 0.5
    assert make_task([SENTENCE], return_entity_level_metrics=True).score(records)["Gene_number"] == 1


def test_decode_keeps_gold_positions_of_outputs_padded_across_batches():
    task = make_task([SENTENCE])
    features_labels = [[-100, 0, -100, 3, -100], [-100, 1, 2, -100]]  # lengths 5 and 4 (two batches)
    logits = np.full((2, 7, 4), -100.0, dtype=np.float32)  # the Trainer pads logits with -100 to length 7
    predicted = [[3, 0, 1, 1, 3], [2, 1, 3, 0]]  # argmax wanted at each real position
    for row, ids in enumerate(predicted):
        for position, index in enumerate(ids):
            logits[row, position, :] = 0.0
            logits[row, position, index] = 5.0
    import datasets

    # row a: 2 words, the first of two pieces; row b: 2 words (word ids as the tokenizer gives them)
    word_ids = [[None, 0, 0, 1, None], [None, 0, 1, None]]
    split = Split(
        "test",
        None,
        datasets.Dataset.from_dict({"id": ["a", "b"], "tokens": [["aspirin", "kinase"], ["kinase", "blocks"]]}),
        datasets.Dataset.from_dict({"labels": features_labels, "word_ids": word_ids}),
    )
    from types import SimpleNamespace

    decoded = task.decode(SimpleNamespace(predictions=logits, label_ids=None), split, "eval")
    records = decoded.records
    assert decoded.files == {}  # the raw-logit file is written for the test split only
    # kept positions: row a -> 1, 3; row b -> 1, 2; the entities are read from the words' predicted tags
    assert records == [
        {
            "id": "a",
            "prediction": ["B-Chem", "B-Gene"],
            "label": ["B-Chem", "O"],
            "entities": [
                {"type": "Chem", "start": 0, "end": 7, "text": "aspirin", "words": [0, 1]},
                {"type": "Gene", "start": 8, "end": 14, "text": "kinase", "words": [1, 2]},
            ],
        },
        {
            "id": "b",
            "prediction": ["B-Gene", "O"],
            "label": ["B-Gene", "I-Chem"],
            "entities": [{"type": "Gene", "start": 0, "end": 6, "text": "kinase", "words": [0, 1]}],
        },
    ]


# ---------------------------------------------------------------- end to end
# (ner_example, make_ner_splits and ner_run are in helpers.py: test_padding_free runs them too)


def pico_example(rng, index):
    """EBM PICO after preprocessing: every I- tag rewritten B-, one entity per word."""
    record = ner_example(rng, index)
    return dict(record, ner_tags=["B" + tag[1:] if tag.startswith("I-") else tag for tag in record["ner_tags"]])


def test_ner_end_to_end_scores_match_seqeval_on_the_written_predictions(tiny_model, tmp_path):
    paths = make_ner_splits(tmp_path)
    out = tmp_path / "out"
    assert ner_run(tiny_model, paths, out) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["id2label"] == {"0": "B-Chem", "1": "B-Dis", "2": "B-Gene", "3": "I-Dis", "4": "O"}
    for prefix, key, split in (("eval", "eval", "dev"), ("predict", "test", "test")):
        results = json.loads((out / f"{prefix}_results.json").read_text())
        records = read_jsonl(out / f"{prefix}_predictions.jsonl")
        gold = read_jsonl(paths[split])
        # nothing truncated at 64 tokens: one tag per word, in file order, gold tags as written
        assert [r["id"] for r in records] == [g["id"] for g in gold]
        assert [r["label"] for r in records] == [g["ner_tags"] for g in gold]
        assert all(len(r["prediction"]) == len(g["tokens"]) for r, g in zip(records, gold, strict=True))
        y_true, y_pred = [r["label"] for r in records], [r["prediction"] for r in records]
        assert results[f"{key}_f1"] == pytest.approx(f1_score(y_true, y_pred))
        assert results[f"{key}_precision"] == pytest.approx(precision_score(y_true, y_pred, zero_division=0))
        assert results[f"{key}_recall"] == pytest.approx(recall_score(y_true, y_pred))
        assert results[f"{key}_accuracy"] == pytest.approx(accuracy_score(y_true, y_pred))
    # the original's test outputs, stored compactly: per sentence its tokens' logits [L_i, C] (no
    # padding), label ids (-100 off the first pieces) and each token's word index (None for
    # [CLS] and [SEP])
    outputs = load_raw_outputs(out / "test_outputs.json")
    assert (out / "test_outputs.npz").is_file()
    records, gold = read_jsonl(out / "predict_predictions.jsonl"), read_jsonl(paths["test"])
    assert len(outputs.predictions) == len(gold) and all(row.shape[1] == 5 for row in outputs.predictions)
    rows = zip(records, outputs.extra["word_ids"], gold, strict=True)
    for row, (record, words, sentence) in enumerate(rows):
        logits, label_ids = outputs.predictions[row], outputs.label_ids[row]
        assert logits.shape[0] == label_ids.shape[0] == len(words)  # exactly the sentence's tokens
        kept = label_ids != -100
        assert [config["id2label"][str(i)] for i in logits[kept].argmax(axis=-1)] == record["prediction"]
        assert (
            words[0] is None
            and words[-1] is None
            and max(w for w in words if w is not None) == len(sentence["tokens"]) - 1
        )
    # entity = word identity is easy to learn; the coin-flip "beta" keeps a perfect score out of reach
    assert 0.6 <= json.loads((out / "predict_results.json").read_text())["test_f1"] < 1.0


def test_ner_macro_flag_reports_macro_and_overall(tiny_model, tmp_path):
    paths = make_ner_splits(tmp_path, seed=1, make=pico_example)
    out = tmp_path / "out"
    assert ner_run(tiny_model, paths, out, "--return_macro_metrics", "--label_all_tokens") == 0
    results = json.loads((out / "eval_results.json").read_text())
    assert {"eval_macro_precision", "eval_macro_recall", "eval_macro_f1", "eval_f1", "eval_accuracy"} <= set(results)
    records = read_jsonl(out / "eval_predictions.jsonl")
    report = classification_report(
        [r["label"] for r in records], [r["prediction"] for r in records], output_dict=True, zero_division=0
    )
    assert results["eval_macro_f1"] == pytest.approx(report["macro avg"]["f1-score"])
    assert results["eval_f1"] == pytest.approx(report["micro avg"]["f1-score"])
    assert 0.0 < results["eval_macro_f1"] < 1.0  # learned, and not trivially perfect
    # label_all_tokens evaluates every word piece, not every word: as many positions as pieces
    from transformers import AutoTokenizer

    pieces = AutoTokenizer.from_pretrained(tiny_model).tokenize
    gold = read_jsonl(paths["dev"])
    for record, example in zip(records, gold, strict=True):
        assert record["label"] == [
            tag for word, tag in zip(example["tokens"], example["ner_tags"], strict=True) for _ in pieces(word)
        ]


GOOD = {"id": "g", "tokens": ["aspirin", "blocks", "kinase"], "ner_tags": ["B-Chem", "O", "B-Gene"]}
BAD_INPUTS = [
    # (split to corrupt, its records, expected fragments of the one-line error)
    ("train", [GOOD, dict(GOOD, ner_tags=["O", "O"])], ["train.json:2", "field 'ner_tags'", "3 words", "2 tags"]),
    (
        "dev",
        [GOOD, GOOD, dict(GOOD, ner_tags=["B-Dis", "O", "O"])],
        ["dev.json:3", "field 'ner_tags'", "'B-Dis' never seen in train"],
    ),
    ("train", [dict(GOOD, tokens="aspirin blocks kinase")], ["train.json:1", "field 'tokens'", "list of words"]),
    ("test", [GOOD, {"id": "t", "tokens": ["a"]}], ["test.json:2", "field 'ner_tags'", "missing"]),
    ("train", [dict(GOOD, ner_tags=["B-Chem", 0, "O"])], ["train.json:1", "field 'ner_tags'", "tag strings"]),
]


@pytest.mark.parametrize("split,records,fragments", BAD_INPUTS, ids=[f"{s}-{f[1]}" for s, _, f in BAD_INPUTS])
def test_bad_input_is_one_clear_error_and_writes_nothing(tiny_model, tmp_path, capsys, split, records, fragments):
    paths = {name: write_jsonl(tmp_path / f"{name}.json", [GOOD, GOOD]) for name in ("train", "dev", "test")}
    write_jsonl(paths[split], records)
    out = tmp_path / "out"
    assert ner_run(tiny_model, paths, out) == 2
    assert_one_line_error(capsys, fragments, out)
