"""metrics/ner.py on hand-made tag sequences; every expected value is worked out in the comments."""

import math

import pytest
from sklearn.metrics import precision_recall_fscore_support

from linkbert.finetune.metrics.ner import ner_metrics, seqeval_report

# Two sentences, two entity types.
GOLD = [
    ["B-PER", "I-PER", "O", "B-LOC", "O"],  # PER(0-1), LOC(3)
    ["B-LOC", "I-LOC", "O", "B-PER"],  # LOC(0-1), PER(3)
]
PRED = [
    ["B-PER", "O", "O", "B-LOC", "O"],  # PER(0) cuts the gold span short: wrong; LOC(3) right
    ["B-LOC", "I-LOC", "B-PER", "B-PER"],  # LOC(0-1) right; PER(2) extra; PER(3) right
]
# gold entities 4, predicted 5, correct 3 (LOC, LOC, PER(3))
# micro: P = 3/5, R = 3/4, F1 = 2 * 0.6 * 0.75 / 1.35 = 2/3
# tokens: sentence 1 has 4/5 right (position 1 differs), sentence 2 3/4 (position 2) -> accuracy 7/9
# PER: gold 2, predicted 3, correct 1 -> P 1/3, R 1/2, F1 = 2 * (1/6) / (5/6) = 0.4
# LOC: gold 2, predicted 2, correct 2 -> P = R = F1 = 1
# macro: P (1/3 + 1)/2 = 2/3, R (1/2 + 1)/2 = 3/4, F1 (0.4 + 1)/2 = 0.7


def test_default_is_overall_micro_and_token_accuracy():
    assert ner_metrics(PRED, GOLD) == pytest.approx({"precision": 0.6, "recall": 0.75, "f1": 2 / 3, "accuracy": 7 / 9})


def test_entity_level_metrics_are_flattened_per_type_plus_overall():
    expected = {
        "PER_precision": 1 / 3,
        "PER_recall": 0.5,
        "PER_f1": 0.4,
        "PER_number": 2,
        "LOC_precision": 1.0,
        "LOC_recall": 1.0,
        "LOC_f1": 1.0,
        "LOC_number": 2,
        "overall_precision": 0.6,
        "overall_recall": 0.75,
        "overall_f1": 2 / 3,
        "overall_accuracy": 7 / 9,
    }
    assert ner_metrics(PRED, GOLD, entity_level=True) == pytest.approx(expected)


def test_macro_is_the_unweighted_mean_over_types_and_keeps_overall():
    expected = {
        "macro_precision": 2 / 3,
        "macro_recall": 0.75,
        "macro_f1": 0.7,
        "precision": 0.6,
        "recall": 0.75,
        "f1": 2 / 3,
        "accuracy": 7 / 9,
    }
    assert ner_metrics(PRED, GOLD, macro=True) == pytest.approx(expected)


def test_entity_level_is_checked_before_macro():
    # the original tested --return_entity_level_metrics first, so it wins when both are given
    both = ner_metrics(PRED, GOLD, entity_level=True, macro=True)
    assert "PER_f1" in both and "macro_f1" not in both


def test_default_mode_is_not_strict():
    # conlleval / seqeval default: an I- tag after O opens an entity, so I-PER here is the gold PER(1)
    assert ner_metrics([["O", "I-PER"]], [["O", "B-PER"]])["f1"] == 1.0


def test_a_type_only_predicted_counts_in_the_macro_mean():
    # A: gold 1, predicted 1, correct 1 -> 1, 1, 1; X: never gold, predicted once -> 0, 0, 0 (number 0)
    # macro F1 = (1 + 0) / 2 = 0.5; micro P = 1/2, R = 1/1, F1 = 2/3
    report = seqeval_report([["B-A", "B-X"]], [["B-A", "O"]])
    assert report["X"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "number": 0}
    scores = ner_metrics([["B-A", "B-X"]], [["B-A", "O"]], macro=True)
    assert scores["macro_f1"] == 0.5 and scores["f1"] == pytest.approx(2 / 3)


def test_no_entity_at_all_gives_zeros_not_nan():
    scores = ner_metrics([["O", "O"]], [["O", "O"]], macro=True)
    assert scores == {
        "macro_precision": 0.0,
        "macro_recall": 0.0,
        "macro_f1": 0.0,
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "accuracy": 1.0,
    }
    assert not any(math.isnan(v) for v in scores.values())


# EBM PICO after preprocessing: every I- became B-, so each token is an entity of its own.
PICO_GOLD = [["B-PAR", "B-PAR", "O", "B-INT", "B-OUT", "B-OUT"], ["B-OUT", "O"]]
PICO_PRED = [["B-PAR", "O", "O", "B-INT", "B-INT", "B-OUT"], ["B-OUT", "B-PAR"]]
# PAR: gold 2 (s1:0, s1:1), predicted 2 (s1:0, s2:1), correct 1 -> P 1/2, R 1/2, F1 1/2
# INT: gold 1 (s1:3), predicted 2 (s1:3, s1:4), correct 1 -> P 1/2, R 1, F1 2/3
# OUT: gold 3 (s1:4, s1:5, s2:0), predicted 2 (s1:5, s2:0), correct 2 -> P 1, R 2/3, F1 0.8
# macro: P (1/2 + 1/2 + 1)/3 = 2/3, R (1/2 + 1 + 2/3)/3 = 13/18, F1 (1/2 + 2/3 + 0.8)/3 = 59/90
# micro: gold 6, predicted 6, correct 4 -> 2/3 each; tokens right 5/8


def test_pico_macro_by_hand():
    expected = {
        "macro_precision": 2 / 3,
        "macro_recall": 13 / 18,
        "macro_f1": 59 / 90,
        "precision": 2 / 3,
        "recall": 2 / 3,
        "f1": 2 / 3,
        "accuracy": 5 / 8,
    }
    assert ner_metrics(PICO_PRED, PICO_GOLD, macro=True) == pytest.approx(expected)


def test_pico_macro_equals_token_level_macro_f1():
    # BLURB scores PICO per token: macro F1 over the three classes, O excluded (sklearn, independent of seqeval)
    flat_gold = [tag for sentence in PICO_GOLD for tag in sentence]
    flat_pred = [tag for sentence in PICO_PRED for tag in sentence]
    p, r, f, _ = precision_recall_fscore_support(
        flat_gold, flat_pred, labels=["B-PAR", "B-INT", "B-OUT"], average="macro", zero_division=0
    )
    scores = ner_metrics(PICO_PRED, PICO_GOLD, macro=True)
    assert (scores["macro_precision"], scores["macro_recall"], scores["macro_f1"]) == pytest.approx((p, r, f))


def test_values_are_plain_python_numbers():
    # they go into results JSON files; numpy scalars would be converted silently or fail
    for value in ner_metrics(PRED, GOLD, entity_level=True).values():
        assert type(value) in (float, int)
