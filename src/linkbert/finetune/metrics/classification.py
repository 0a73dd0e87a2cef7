"""Sequence-classification metrics of the BLURB recipes, as the original run_seqcls.py defines them.

All take plain Python / numpy values and return fractions in [0, 1] (the original reports them
unscaled), under the original key names: `accuracy`; `precision`, `recall`, `F1`; `pearsonr`; `mse`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def accuracy(predictions: Sequence[int], labels: Sequence[int]) -> dict[str, float]:
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    return {"accuracy": float((predictions == labels).mean())}


def _precision_recall_f1(true_positives: int, predicted: int, gold: int) -> dict[str, float]:
    precision = true_positives / predicted if predicted else 0.0
    recall = true_positives / gold if gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "F1": f1}


def prf1_positive_classes(
    predictions: Sequence[int], labels: Sequence[int], negative_index: int = 0
) -> dict[str, float]:
    """Micro P/R/F1 over the positive classes only (ChemProt, DDI, GAD): the negative class (index 0
    after sorting the label strings, i.e. "0", which preprocessing maps every "false" label to)
    counts neither as a prediction nor as a gold relation."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    predicted_positive = predictions != negative_index
    true_positives = int(((predictions == labels) & predicted_positive).sum())
    return _precision_recall_f1(true_positives, int(predicted_positive.sum()), int((labels != negative_index).sum()))


def hoc_document_prf1(
    ids: Sequence[str], predictions: Sequence[Sequence[int]], labels: Sequence[Sequence[int]]
) -> dict[str, float]:
    """HoC: rows are grouped into documents by the id prefix before '_', the multi-hot label sets
    of a document are OR-ed (for predictions and gold alike), then one micro P/R/F1 is taken over
    all (document, label) cells."""
    documents: dict[str, int] = {}
    for row_id in ids:
        documents.setdefault(str(row_id).split("_")[0], len(documents))
    rows = np.array([documents[str(row_id).split("_")[0]] for row_id in ids], dtype=np.int64)
    predictions = np.asarray(predictions, dtype=bool)
    labels = np.asarray(labels, dtype=bool)
    doc_predictions = np.zeros((len(documents), predictions.shape[1]), dtype=bool)
    doc_labels = np.zeros_like(doc_predictions)
    np.logical_or.at(doc_predictions, rows, predictions)
    np.logical_or.at(doc_labels, rows, labels)
    true_positives = int((doc_predictions & doc_labels).sum())
    return _precision_recall_f1(true_positives, int(doc_predictions.sum()), int(doc_labels.sum()))


def pearson(predictions: Sequence[float], labels: Sequence[float]) -> dict[str, float]:
    from scipy.stats import pearsonr

    return {
        "pearsonr": float(pearsonr(np.asarray(labels, dtype=np.float64), np.asarray(predictions, dtype=np.float64))[0])
    }


def mean_squared_error(predictions: Sequence[float], labels: Sequence[float]) -> dict[str, float]:
    predictions, labels = np.asarray(predictions, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    return {"mse": float(((predictions - labels) ** 2).mean())}
