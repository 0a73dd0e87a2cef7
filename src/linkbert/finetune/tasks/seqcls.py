"""Sequence classification (BLURB: PubMedQA, BioASQ, HoC, ChemProt, DDI, GAD, BIOSSES).

Label kinds follow the original run_seqcls.py, read from the train split: text or integer labels
are single-label classes (sorted unique train labels -> index, written to the config); any float
label makes the task a regression (num_labels = 1, MSE); list labels are multi-label (BCE with
logits, a class is predicted when its logit > 0). The original got multi-label BCE only by accident
of its collator; here it is set explicitly.

Without a train file and without --do_train (predicting with a fine-tuned checkpoint), the label
scheme is the checkpoint's: `problem_type`, and `id2label` for the class names. Each prediction
record carries `probabilities` keyed by class name (softmax for single-label, per-class sigmoid for
multi-label). `prediction` is the label as the data writes it (a class, a float, a multi-hot list
comparable with the gold `label`); on a test file without labels a multi-label prediction is the
list of the names of its classes instead, there being no multi-hot gold to mirror.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from linkbert.errors import FieldError, UsageError
from linkbert.finetune.args import DataArguments
from linkbert.finetune.data import Split, require
from linkbert.finetune.metrics import classification
from linkbert.finetune.raw_outputs import raw_outputs
from linkbert.finetune.tasks.base import (
    Decoded,
    Task,
    check_optional_id,
    default_label_names,
    logits,
    no_checkpoint_labels,
    other_head,
    softmax,
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
        # the label scheme, fixed once train is checked (finish_check) or read from the checkpoint
        self.kind: str | None = None
        self.label_list: list = []
        self.label_names: list[str] = []  # class names as the config writes them (probabilities' keys)
        self._index: dict = {}
        self.metric_name: str | None = None
        self.label_source = "train"  # or "checkpoint" (labels_from_checkpoint)

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
        if not self.label_present(split, record, "label"):
            return
        if split == "train":
            self._learn_label(record["label"])
        else:
            self._check_known_label(record["label"])

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
            # labels from the checkpoint: the metric is needed once a labelled split is to be scored
            if self.metric_name is None and self.labelled(split):
                self._choose_metric()
            return
        if self._label_family == "list":
            self.kind = MULTI
            self.label_names = [f"LABEL_{index}" for index in range(self._width)]  # transformers' default names
        elif self._label_family == "number" and self._has_float:
            self.kind = REGRESSION
        else:
            self.kind = SINGLE
            self.label_list = sorted(self._train_labels)
            self.label_names = [str(label) for label in self.label_list]
            self._index = {label: index for index, label in enumerate(self.label_list)}
        self._choose_metric()

    def labels_from_checkpoint(self, config, name: str) -> None:
        """The checkpoint's label scheme: its problem_type, its id2label names (refused when it has
        neither, as a pretrained checkpoint that was never fine-tuned)."""
        head = other_head(config, "ForSequenceClassification")
        if head is not None:
            raise no_checkpoint_labels(name, f"its config names {head}, not a ...ForSequenceClassification head")
        id2label = {int(index): str(label) for index, label in config.id2label.items()}
        kind = config.problem_type
        if kind is None:  # transformers infers it at the first forward pass; a saved fine-tune has it
            if not default_label_names(id2label):
                kind = SINGLE
            elif config.num_labels == 1:
                kind = REGRESSION
            else:
                raise no_checkpoint_labels(
                    name, "its config has no problem_type and no label names: id2label is LABEL_0, LABEL_1, ..."
                )
        if kind not in (SINGLE, MULTI, REGRESSION):
            raise no_checkpoint_labels(name, f"its config's problem_type {kind!r} is not one this task knows")
        self.kind, self.label_source = kind, "checkpoint"
        if kind != REGRESSION:
            names = [id2label[index] for index in range(config.num_labels)]
            self.label_names = names
            if kind == MULTI:
                self._width = len(names)
            else:
                self.label_list = names
                self._index = {label: index for index, label in enumerate(names)}
        if self.data_args.metric_name is not None:
            self._choose_metric()

    def _choose_metric(self) -> None:
        self.metric_name = self.data_args.metric_name or DEFAULT_METRIC.get(self.kind)
        if self.metric_name is None:
            raise UsageError("multi-label data (list labels) needs --metric_name hoc")
        if METRICS[self.metric_name][0] != self.kind:
            source = "train labels" if self.label_source == "train" else "checkpoint's labels"
            raise UsageError(
                f"--metric_name {self.metric_name} needs {METRICS[self.metric_name][0]} labels, but the {source} "
                f"make this {self.kind}"
            )

    def _check_known_label(self, label) -> None:
        source = "train" if self.label_source == "train" else "checkpoint's"
        if self.kind == SINGLE:
            if self._lookup(label) is None:
                shown = ", ".join(map(repr, self.label_list[:10]))
                if self.label_source == "train":
                    raise FieldError("label", f"{label!r:.60} never seen in train (train labels: {shown})")
                raise FieldError("label", f"{label!r:.60} is not one of the checkpoint's labels ({shown})")
        elif self.kind == REGRESSION:
            if _label_family(label) != "number" or not math.isfinite(label):
                raise FieldError(
                    "label", f"expected a number (the {source} labels are regression targets), got {label!r:.60}"
                )
        elif _label_family(label) != "list" or len(label) != self._width:
            raise FieldError(
                "label", f"expected a list of {self._width} 0/1 values like the {source} labels, got {label!r:.60}"
            )

    def _lookup(self, label) -> int | None:
        """The class index of a single-label label, None when it is not a class. The checkpoint's
        config names its classes as strings, so there an integer label matches its string form."""
        if isinstance(label, bool) or not isinstance(label, (str, int)):
            return None
        if label in self._index:
            return self._index[label]
        return self._index.get(str(label)) if self.label_source == "checkpoint" else None

    # ----- model -----
    def config_overrides(self) -> dict:
        if self.label_source == "checkpoint":
            return {}  # the checkpoint's own labels
        if self.kind == SINGLE:
            return {
                "num_labels": len(self.label_list),
                "label2id": {str(label): index for index, label in enumerate(self.label_list)},
                "id2label": {index: str(label) for index, label in enumerate(self.label_list)},
                "problem_type": SINGLE,
            }
        if self.kind == MULTI:  # the names the probabilities are keyed by, whatever the checkpoint had
            return {
                "num_labels": self._width,
                "label2id": {name: index for index, name in enumerate(self.label_names)},
                "id2label": dict(enumerate(self.label_names)),
                "problem_type": MULTI,
            }
        return {"num_labels": 1, "problem_type": REGRESSION}

    def featurize(self, batch: dict[str, list], tokenizer, split: str) -> dict[str, list]:
        texts = [batch[name] for name in self.text_fields]
        features = tokenizer(
            *texts,
            truncation=True,
            max_length=self.max_length(tokenizer),
            padding=self.padding(),
        )
        if self.labelled(split):
            features["labels"] = [self._encode_label(label) for label in batch["label"]]
        return features

    def _encode_label(self, label):
        if self.kind == SINGLE:
            return self._lookup(label)
        if self.kind == REGRESSION:
            return float(label)
        return [float(value) for value in label]

    def decode(self, output, split: Split, file_prefix: str) -> Decoded:
        scores = logits(output.predictions)
        probabilities = None
        if self.kind == SINGLE:
            predicted = [self.label_list[index] for index in scores.argmax(axis=-1).tolist()]
            probabilities = softmax(scores)
        elif self.kind == REGRESSION:
            predicted = scores.reshape(-1).astype(float).tolist()
        else:
            on = scores > 0
            probabilities = 1.0 / (1.0 + np.exp(-scores.astype(np.float64)))
            # multi-hot beside multi-hot gold labels; the class names when there are none
            predicted = (
                on.astype(int).tolist()
                if split.labelled
                else [[self.label_names[index] for index in np.flatnonzero(row)] for row in on]
            )
        examples = split.examples
        labels = examples["label"] if split.labelled else [None] * len(examples)
        records = []
        for row, (example_id, prediction, label) in enumerate(zip(examples["id"], predicted, labels, strict=True)):
            record = {"id": example_id, "prediction": prediction}
            if split.labelled:
                record["label"] = label
            if probabilities is not None:
                record["probabilities"] = dict(zip(self.label_names, probabilities[row].tolist(), strict=True))
            records.append(record)
        # as the original: the test split's logits and label ids
        return Decoded(records, {"test_outputs.json": raw_outputs(output)} if file_prefix == "predict" else {})

    def score(self, records: list[dict]) -> dict[str, float]:
        metric = METRICS[self.metric_name][1]
        return metric(
            self, [r["id"] for r in records], [r["prediction"] for r in records], [r["label"] for r in records]
        )

    def indices(self, labels) -> list[int]:
        return [self._lookup(label) for label in labels]


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
