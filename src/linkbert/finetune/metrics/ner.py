"""Entity-level NER metrics of the BLURB recipes, as the original run_ner.py reports them.

The original scored with `datasets.load_metric("seqeval")`, a thin wrapper over the `seqeval`
package (removed from `datasets` 3.0); here the package is called directly with the same settings:
default (non-strict, conlleval-compatible) mode, no suffix tags, zero divisions counted as 0.
Inputs are the tag strings of the positions the original evaluated (gold label != -100), one list
per sentence. Values are fractions in [0, 1], unscaled, like the original.

Three report shapes, chosen by the run_ner.py flags:
- default: overall micro `precision`, `recall`, `f1` and token `accuracy`;
- `--return_entity_level_metrics`: `<TYPE>_precision/_recall/_f1/_number` for every entity type
  plus `overall_precision/_recall/_f1/_accuracy`;
- `--return_macro_metrics` (EBM PICO): `macro_precision/_recall/_f1`, the unweighted mean over
  entity types, plus the default overall keys (the original returned the macro keys only).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

Tags = Sequence[Sequence[str]]


def seqeval_report(predictions: Tags, labels: Tags) -> dict:
    """Per entity type {"precision", "recall", "f1", "number"} and the overall micro values
    `overall_precision/_recall/_f1/_accuracy`, the dict the `datasets` seqeval metric returned.
    A type appearing only in the predictions is listed with number 0 (seqeval's behaviour)."""
    from seqeval.metrics import accuracy_score, classification_report

    predictions, labels = [list(p) for p in predictions], [list(g) for g in labels]
    with warnings.catch_warnings():
        # with no entity at all seqeval's own macro average (discarded below) is a mean of nothing
        warnings.simplefilter("ignore", RuntimeWarning)
        report = classification_report(labels, predictions, output_dict=True, zero_division=0)
    micro = report.pop("micro avg")
    report.pop("macro avg")
    report.pop("weighted avg")
    scores: dict = {
        type_name: {
            "precision": float(row["precision"]),
            "recall": float(row["recall"]),
            "f1": float(row["f1-score"]),
            "number": int(row["support"]),
        }
        for type_name, row in report.items()
    }
    scores["overall_precision"] = float(micro["precision"])
    scores["overall_recall"] = float(micro["recall"])
    scores["overall_f1"] = float(micro["f1-score"])
    scores["overall_accuracy"] = float(accuracy_score(labels, predictions))
    return scores


def overall_metrics(report: dict) -> dict[str, float]:
    return {
        "precision": report["overall_precision"],
        "recall": report["overall_recall"],
        "f1": report["overall_f1"],
        "accuracy": report["overall_accuracy"],
    }


def entity_level_metrics(report: dict) -> dict[str, float]:
    """The report flattened: {"PER": {"f1": x}} -> {"PER_f1": x}; overall_* keys kept as they are."""
    flat: dict[str, float] = {}
    for key, value in report.items():
        if isinstance(value, dict):
            flat.update({f"{key}_{name}": number for name, number in value.items()})
        else:
            flat[key] = value
    return flat


def macro_metrics(report: dict) -> dict[str, float]:
    """Unweighted mean over entity types of each type's precision, recall and F1, as the original
    averaged every non-"overall" entry. EBM PICO tags every token B-<type>, so each token is one
    entity and this equals BLURB's token-level macro F1. With no entity at all (gold or predicted)
    the mean is empty; 0.0 is reported instead of NaN, matching the overall values in that case."""
    types = [value for value in report.values() if isinstance(value, dict)]
    mean = lambda name: float(np.mean([row[name] for row in types])) if types else 0.0  # noqa: E731
    return {"macro_precision": mean("precision"), "macro_recall": mean("recall"), "macro_f1": mean("f1")}


def ner_metrics(
    predictions: Tags, labels: Tags, *, entity_level: bool = False, macro: bool = False
) -> dict[str, float]:
    """The metrics run_ner.py reports; entity_level wins over macro, as the original checked it first."""
    report = seqeval_report(predictions, labels)
    if entity_level:
        return entity_level_metrics(report)
    if macro:
        return {**macro_metrics(report), **overall_metrics(report)}
    return overall_metrics(report)
