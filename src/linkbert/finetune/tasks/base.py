"""The contract between the shared fine-tuning core (`linkbert.finetune.run`) and a task module.

A task answers five questions: which fields a split needs and how labels are read (`check_record`,
`finish_check`, `config_overrides`); how an example becomes features (`featurize`); which model head
and collator (`model_class`, `collator`); how raw model outputs become per-example predictions and
the files written beside them (`decode`, which returns a `Decoded`); and which metric, computed
exactly as the original defines it (`score`). Everything else (arguments, loading, the Trainer,
results files) lives once in the core.

Task state (the label set read from train, say) is declared in `__init__` and filled while the
train split is checked; decoding and scoring return their results instead of keeping them.

Prediction on new text: a test file may carry no labels at all (`label_present` enforces that a
file is labelled all or nothing, and that train and validation are labelled); the core then marks
its `Split` as unlabelled, `decode` writes records without a label field and nothing is scored. A
run without a train file takes the label set from the fine-tuned checkpoint instead
(`labels_from_checkpoint`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from linkbert.errors import FieldError, UsageError
from linkbert.finetune.args import DataArguments
from linkbert.finetune.data import Split, require


@dataclass
class Decoded:
    """What decoding one split produced: a record per example, {"id", "prediction", "label", ...} (no
    "label" when the split has no gold labels, see Split.labelled; tasks add fields such as
    probabilities), and further files to write beside the per-example predictions (file name ->
    JSON-able content), e.g. QA's n-best lists or the raw logits."""

    records: list[dict]
    files: dict[str, Any] = field(default_factory=dict)


class Task:
    name: ClassVar[str]
    data_args_class: ClassVar[type[DataArguments]] = DataArguments
    # splits read whenever a file is given, even when their --do_ switch is off (sequence classification and
    # NER take their label set from train); without the file, `labels_from_checkpoint` is asked instead
    always_needed: ClassVar[tuple[str, ...]] = ()
    # labels are one per token (padded with -100) rather than one per input
    token_labels: ClassVar[bool] = False

    def __init__(self, data_args: DataArguments):
        self.data_args = data_args
        self._labelled: dict[str, bool] = {}  # split -> whether its records carry labels (label_present)

    @property
    def model_class(self):
        raise NotImplementedError

    def check_record(self, split: str, record: dict) -> None:
        """Raise FieldError(field, message) for a record this task cannot use. Splits are checked in
        the order train, validation, test."""
        raise NotImplementedError

    def finish_check(self, split: str) -> None:
        """Called after every record of `split` passed `check_record` (e.g. to fix the label set)."""

    def labels_from_checkpoint(self, config, name: str) -> None:
        """Called before any split is checked when a split in `always_needed` has no file (predicting
        or evaluating with a fine-tuned checkpoint and no train file): take the label set from the
        checkpoint's `config` (loaded from `name`), or raise UsageError in one line saying why it
        cannot be used. Tasks that read nothing from train have nothing to do."""

    def label_present(self, split: str, record: dict, field: str) -> bool:
        """Whether `record` carries its label `field`. Labels are all or nothing per file: a record
        that differs from the first record of its split is a FieldError; train and validation
        records must be labelled (only a prediction file may have no labels)."""
        present = field in record
        first = self._labelled.setdefault(split, present)
        if present and not first:
            raise FieldError(
                field, "given, but the first record of this file has none: label every record of a file, or none"
            )
        if not present:
            if first and split == "test":
                raise FieldError(
                    field, "missing, but the first record of this file has one: label every record of a file, or none"
                )
            if split != "test":
                purpose = "training" if split == "train" else "evaluation"
                raise FieldError(
                    field,
                    f"missing ({purpose} needs labels; to predict on unlabelled text pass the file as --test_file "
                    "with --do_predict)",
                )
        return present

    def labelled(self, split: str) -> bool:
        """Whether the records of `split` carry labels, as checked by `label_present` (True for a split
        whose labels were never asked about)."""
        return self._labelled.get(split, True)

    def config_overrides(self) -> dict[str, Any]:
        """Extra config fields for the model head (num_labels, label2id, problem_type, ...)."""
        return {}

    def check_with_tokenizer(self, split: str, path, tokenizer) -> None:
        """Checks that need the tokenizer (QA: room for the context after each question), run after
        the record checks and before anything is loaded or written; raise DataError."""

    def featurize(self, batch: dict[str, list], tokenizer, split: str) -> dict[str, list]:
        """Tokenize a batch of examples (datasets.map(batched=True)) into model features."""
        raise NotImplementedError

    def padding(self) -> str | bool:
        """The tokenizer's `padding=`: to max_seq_length with --pad_to_max_length (the original's
        default), else none here and per batch in the collator."""
        return "max_length" if self.data_args.pad_to_max_length else False

    def collator(self, tokenizer, pad_to_multiple_of: int | None):
        """Pad each batch to its longest input (the original padded every input to max_seq_length;
        the attention mask makes the results the same); with --pad_to_max_length the features are
        already padded and pass through unchanged, as with the original's default_data_collator."""
        from linkbert.finetune.collator import PaddingCollator

        multiple = None if self.data_args.pad_to_max_length else pad_to_multiple_of
        return PaddingCollator.for_tokenizer(tokenizer, multiple, token_labels=self.token_labels)

    def decode(self, output, split: Split, file_prefix: str) -> Decoded:
        """Turn the model outputs for split.features into one record per example, plus the files to
        write with them. `output` is the Trainer's prediction output (`predictions`, `label_ids`);
        `file_prefix` is "eval" or "predict", as the files are named. The records of an unlabelled
        split (`split.labelled` False) have no "label" field."""
        raise NotImplementedError

    def score(self, records: list[dict]) -> dict[str, float]:
        """The task metric computed from decoded records, keys without the eval_/test_ prefix (called for
        labelled splits only)."""
        raise NotImplementedError

    def sample_count(self, split: Split) -> int:
        """What the results files report as `eval_samples` / `predict_samples`: the examples."""
        return len(split.examples)

    def max_length(self, tokenizer) -> int:
        """--max_seq_length capped at the tokenizer's model_max_length (512 for BERT) as the original
        scripts do; with no --max_seq_length, that limit itself, never above 1024 (tokenizers that
        declare no limit report a huge number)."""
        limit = min(tokenizer.model_max_length, 1024)
        wanted = self.data_args.max_seq_length
        return limit if wanted is None else min(wanted, limit)


def check_optional_id(record: dict) -> None:
    """An `id` is optional (the line index stands in for it), but when present it must be usable."""
    if "id" in record:
        require(record, "id", (str, int), "a string or integer id")


def logits(predictions) -> np.ndarray:
    """The model's logits from the Trainer's predictions: a tuple when the model returns more than
    one output (hidden states, say), whose first element is the logits."""
    return np.asarray(predictions[0] if isinstance(predictions, tuple) else predictions)


def softmax(scores: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64 (the probabilities written beside predictions)."""
    scores = np.asarray(scores, dtype=np.float64)
    shifted = np.exp(scores - scores.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def default_label_names(id2label: dict) -> bool:
    """Whether a config's id2label is transformers' placeholder (LABEL_0, LABEL_1, ...), which every
    config has when nobody named the labels (a pretrained checkpoint that was never fine-tuned)."""
    return all(str(name) == f"LABEL_{index}" for index, name in id2label.items())


def other_head(config, head: str) -> str | None:
    """The architectures a checkpoint's config records when none of them ends with `head` (e.g.
    "ForTokenClassification"), else None: such a checkpoint's classifier weights would load into this
    task's head silently, and its labels (if any) are another task's."""
    architectures = getattr(config, "architectures", None) or []
    if architectures and not any(arch.endswith(head) for arch in architectures):
        return ", ".join(architectures)
    return None


def no_checkpoint_labels(name: str, why: str) -> UsageError:
    """The one line for a run without a train file whose checkpoint carries no label set."""
    return UsageError(
        f"--train_file is required: the checkpoint {name} carries no label set to predict with ({why}); pass the "
        "train file it was fine-tuned on, or a checkpoint fine-tuned for this task"
    )
