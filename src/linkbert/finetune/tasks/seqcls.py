"""Sequence classification (BLURB: PubMedQA, BioASQ, HoC, ChemProt, DDI, GAD, BIOSSES).

Label kinds follow the original run_seqcls.py, read from the train split: text or integer labels
are single-label classes (sorted unique train labels -> index, written to the config); any float
label makes the task a regression (num_labels = 1, MSE); list labels are multi-label (BCE with
logits, a class is predicted when its logit > 0). The original got multi-label BCE only by accident
of its collator; here it is set explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from linkbert.errors import FieldError, UsageError
from linkbert.finetune.args import DataArguments
from linkbert.finetune.data import Split, require
from linkbert.finetune.metrics import classification
from linkbert.finetune.raw_outputs import raw_outputs
from linkbert.finetune.tasks.base import (
    Decoded,
    Task,
    check_optional_id,
    logits,
)

SINGLE, REGRESSION, MULTI = "single_label_classification", "regression", "multi_label_classification"

# --metric_name -> (label kind it needs, metric over decoded records)
METRICS = {
    "accuracy": (
        SINGLE,
        lambda task, ids, preds, golds: classification.accuracy(task.indices(preds), task.indices(golds)),
    ),
    "PRF1": (
        SINGLE,
        lambda task, ids, preds, golds: classification.prf1_positive_classes(task.indices(preds), task.indices(golds)),
    ),
    "hoc": (MULTI, lambda task, ids, preds, golds: classification.hoc_document_prf1(ids, preds, golds)),
    "pearsonr": (REGRESSION, lambda task, ids, preds, golds: classification.pearson(preds, golds)),
    "mse": (REGRESSION, lambda task, ids, preds, golds: classification.mean_squared_error(preds, golds)),
}
# without --metric_name the original reports accuracy for classes and MSE for regression
DEFAULT_METRIC = {SINGLE: "accuracy", REGRESSION: "mse"}


@dataclass
class SeqClsDataArguments(DataArguments):
    max_seq_length: int | None = field(
        default=128,
        metadata={"help": "Maximum tokens per (pair of) sentence(s); longer inputs are truncated longest-first"},
    )
    metric_name: str | None = field(
        default=None,
        metadata={
            "help": "accuracy, PRF1 (micro over positive classes, ChemProt/DDI/GAD), hoc (document micro F1), "
            "pearsonr (BIOSSES); default: accuracy / mse"
        },
    )
    task_name: str | None = field(
        default=None, metadata={"help": "Not supported: GLUE data came from the Hub; pass --train_file etc."}
    )


class SequenceClassification(Task):
    name = "seqcls"
    data_args_class = SeqClsDataArguments
    always_needed: ClassVar[tuple[str, ...]] = ("train",)

    def __init__(self, data_args: SeqClsDataArguments):
        super().__init__(data_args)
        if data_args.task_name:
            raise UsageError(
                "--task_name loads GLUE from the Hub, which this project does not do: pass "
                "--train_file/--validation_file"
            )
        if data_args.metric_name is not None and data_args.metric_name not in METRICS:
            raise UsageError(f"--metric_name {data_args.metric_name}: expected one of {', '.join(METRICS)}")
        # what the first record shows, then what the train labels show (filled by check_record)
        self.text_fields: tuple[str, ...] | None = None
        self._label_family: str | None = None
        self._train_labels: set = set()
        self._has_float = False
        self._width: int | None = None
        # the label scheme, fixed once train is checked (finish_check)
        self.kind: str | None = None
        self.label_list: list = []
        self._index: dict = {}
        self.metric_name: str | None = None

    @property
    def model_class(self):
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification

    # ----- validation -----
    def check_record(self, split: str, record: dict) -> None:
        if self.text_fields is None:
            self.text_fields = (
                ("sentence1", "sentence2") if "sentence1" in record and "sentence2" in record else ("sentence",)
            )
        for name in self.text_fields:
            require(record, name, str, "a string")
        check_optional_id(record)
        label = record.get("label", None)
        if "label" not in record:
            raise FieldError("label", "missing")
        if split == "train":
            self._learn_label(label)
        else:
            self._check_known_label(label)

    def _learn_label(self, label) -> None:
        family = _label_family(label)
        if family is None:
            raise FieldError("label", f"expected a string, a number or a list of 0/1 ints, got {label!r:.60}")
        if self._label_family is None:
            self._label_family = family
        elif family != self._label_family:
            raise FieldError(
                "label", f"expected a {self._label_family} label like the first train example, got {label!r:.60}"
            )
        if family == "list":
            if self._width is None:
                self._width = len(label)
            elif len(label) != self._width:
                raise FieldError(
                    "label", f"expected {self._width} multi-hot values like the first train example, got {len(label)}"
                )
            return
        if isinstance(label, float) and not math.isfinite(label):
            raise FieldError("label", f"expected a finite number, got {label}")
        self._has_float |= isinstance(label, float)
        self._train_labels.add(label)

    def finish_check(self, split: str) -> None:
        if split != "train":
            return
        if self._label_family == "list":
            self.kind = MULTI
        elif self._label_family == "number" and self._has_float:
            self.kind = REGRESSION
        else:
            self.kind = SINGLE
            self.label_list = sorted(self._train_labels)
            self._index = {label: index for index, label in enumerate(self.label_list)}
        self.metric_name = self.data_args.metric_name or DEFAULT_METRIC.get(self.kind)
        if self.metric_name is None:
            raise UsageError("multi-label data (list labels) needs --metric_name hoc")
        if METRICS[self.metric_name][0] != self.kind:
            raise UsageError(
                f"--metric_name {self.metric_name} needs {METRICS[self.metric_name][0]} labels, but the train labels "
                f"make this {self.kind}"
            )

    def _check_known_label(self, label) -> None:
        if self.kind == SINGLE:
            if isinstance(label, bool) or not isinstance(label, (str, int)) or label not in self._index:
                shown = ", ".join(map(repr, self.label_list[:10]))
                raise FieldError("label", f"{label!r:.60} never seen in train (train labels: {shown})")
        elif self.kind == REGRESSION:
            if _label_family(label) != "number" or not math.isfinite(label):
                raise FieldError(
                    "label", f"expected a number (the train labels are regression targets), got {label!r:.60}"
                )
        elif _label_family(label) != "list" or len(label) != self._width:
            raise FieldError(
                "label", f"expected a list of {self._width} 0/1 values like the train labels, got {label!r:.60}"
            )

    # ----- model -----
    def config_overrides(self) -> dict:
        if self.kind == SINGLE:
            return {
                "num_labels": len(self.label_list),
                "label2id": {str(label): index for index, label in enumerate(self.label_list)},
                "id2label": {index: str(label) for index, label in enumerate(self.label_list)},
                "problem_type": SINGLE,
            }
        return {"num_labels": 1 if self.kind == REGRESSION else self._width, "problem_type": self.kind}

    def featurize(self, batch: dict[str, list], tokenizer, split: str) -> dict[str, list]:
        texts = [batch[name] for name in self.text_fields]
        features = tokenizer(
            *texts,
            truncation=True,
            max_length=self.max_length(tokenizer),
            padding=self.padding(),
        )
        features["labels"] = [self._encode_label(label) for label in batch["label"]]
        return features

    def _encode_label(self, label):
        if self.kind == SINGLE:
            return self._index[label]
        if self.kind == REGRESSION:
            return float(label)
        return [float(value) for value in label]

    def decode(self, output, split: Split, file_prefix: str) -> Decoded:
        scores = logits(output.predictions)
        if self.kind == SINGLE:
            predicted = [self.label_list[index] for index in scores.argmax(axis=-1).tolist()]
        elif self.kind == REGRESSION:
            predicted = scores.reshape(-1).astype(float).tolist()
        else:
            predicted = (scores > 0).astype(int).tolist()
        examples = split.examples
        records = [
            {"id": example_id, "prediction": prediction, "label": label}
            for example_id, prediction, label in zip(examples["id"], predicted, examples["label"], strict=True)
        ]
        # as the original: the test split's logits and label ids
        return Decoded(records, {"test_outputs.json": raw_outputs(output)} if file_prefix == "predict" else {})

    def score(self, records: list[dict]) -> dict[str, float]:
        metric = METRICS[self.metric_name][1]
        return metric(
            self, [r["id"] for r in records], [r["prediction"] for r in records], [r["label"] for r in records]
        )

    def indices(self, labels) -> list[int]:
        return [self._index[label] for label in labels]


def _label_family(label) -> str | None:
    if isinstance(label, bool):
        return None
    if isinstance(label, str):
        return "string"
    if isinstance(label, (int, float)):
        return "number"
    if isinstance(label, list) and label and all(not isinstance(v, bool) and v in (0, 1) for v in label):
        return "list"
    return None
