"""The BLURB sequence-classification metrics on hand-computed cases."""

import math

import pytest

from linkbert.finetune.metrics.classification import (
    accuracy,
    hoc_document_prf1,
    mean_squared_error,
    pearson,
    prf1_positive_classes,
)


def test_accuracy_counts_exact_matches():
    assert accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == {"accuracy": 0.75}


def test_prf1_ignores_the_negative_class():
    # index 0 = "0" (negative). gold:      0 1 2 1 0 2
    #                            predicted: 0 1 1 1 2 0
    # predicted positives: positions 1,2,3,4 -> 4; gold positives: 1,2,3,5 -> 4
    # true positives (pred == gold != 0): positions 1 and 3 -> 2
    # P = 2/4, R = 2/4, F1 = 0.5; the correct negative at position 0 earns nothing
    result = prf1_positive_classes([0, 1, 1, 1, 2, 0], [0, 1, 2, 1, 0, 2])
    assert result == pytest.approx({"precision": 0.5, "recall": 0.5, "F1": 0.5})


def test_prf1_is_zero_when_nothing_positive_is_predicted():
    assert prf1_positive_classes([0, 0, 0], [1, 0, 2]) == {"precision": 0.0, "recall": 0.0, "F1": 0.0}


def test_prf1_unequal_precision_and_recall():
    # predicted positives 2 (both right), gold positives 3 -> P = 1, R = 2/3, F1 = 2*(2/3)/(5/3) = 0.8
    result = prf1_positive_classes([1, 2, 0, 0], [1, 2, 1, 0])
    assert result == pytest.approx({"precision": 1.0, "recall": 2 / 3, "F1": 0.8})


def test_hoc_groups_rows_by_document_prefix_and_ors_labels():
    ids = ["10_1", "10_2", "11_1", "12"]
    predictions = [[1, 0, 0], [0, 1, 0], [0, 0, 0], [1, 1, 1]]
    labels = [[1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]]
    # documents: 10 -> pred {0,1} gold {0,2}; 11 -> pred {} gold {1}; 12 -> pred {0,1,2} gold {0}
    # TP = 1 (doc 10 label 0) + 0 + 1 (doc 12 label 0) = 2; predicted 1s = 2 + 0 + 3 = 5; gold 1s = 2 + 1 + 1 = 4
    result = hoc_document_prf1(ids, predictions, labels)
    precision, recall = 2 / 5, 2 / 4
    assert result == pytest.approx(
        {"precision": precision, "recall": recall, "F1": 2 * precision * recall / (precision + recall)}
    )


def test_hoc_grouping_differs_from_row_level_scoring():
    # row level: TP 0 of 2 predicted; document level: the two rows of doc 7 merge and both labels match
    ids, predictions, labels = ["7_1", "7_2"], [[1, 0], [0, 1]], [[0, 1], [1, 0]]
    assert hoc_document_prf1(ids, predictions, labels) == pytest.approx({"precision": 1.0, "recall": 1.0, "F1": 1.0})
    # the same rows as two documents of their own (row-level scoring): no true positive
    assert hoc_document_prf1(["7_1", "8_1"], predictions, labels) == {"precision": 0.0, "recall": 0.0, "F1": 0.0}


def test_pearson_matches_the_textbook_formula():
    predictions, labels = [1.0, 2.0, 4.0, 3.0], [1.5, 2.0, 3.5, 4.0]
    mean_p, mean_l = 2.5, 2.75
    cov = sum((p - mean_p) * (y - mean_l) for p, y in zip(predictions, labels, strict=True))
    var_p = sum((p - mean_p) ** 2 for p in predictions)
    var_l = sum((y - mean_l) ** 2 for y in labels)
    assert pearson(predictions, labels)["pearsonr"] == pytest.approx(cov / math.sqrt(var_p * var_l))


def test_mse():
    assert mean_squared_error([1.0, 3.0], [2.0, 1.0]) == {"mse": pytest.approx((1 + 4) / 2)}
