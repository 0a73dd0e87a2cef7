"""Token classification / NER (BLURB: BC2GM, BC5CDR-chem, BC5CDR-disease, NCBI-disease, JNLPBA,
EBM PICO), as the original tokcls/run_ner.py.

Records are `{"tokens": [word, ...], "ner_tags": [tag, ...], "id"}` with string tags. The label set
is the sorted union of the train tags (written to the config); a dev or test tag never seen in train
is an input error (the original failed with a KeyError). Words are split into WordPieces; only each
word's first piece carries the word's tag and is evaluated, unless --label_all_tokens, which gives
every piece the word's tag (B- kept as is, not changed to I-) and evaluates every piece.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from linkbert.errors import FieldError
from linkbert.finetune.args import DataArguments
from linkbert.finetune.data import Split, require
from linkbert.finetune.metrics.ner import ner_metrics
from linkbert.finetune.raw_outputs import raw_outputs
from linkbert.finetune.tasks.base import (
    Decoded,
    Task,
    check_optional_id,
    logits,
)

IGNORE = -100  # the label id PyTorch's cross-entropy and the original evaluation skip


@dataclass
class TokClsDataArguments(DataArguments):
    task_name: str = field(default="ner", metadata={"help": "Names the default tag field '<task_name>_tags'"})
    text_column_name: str | None = field(
        default=None, metadata={"help": "Field with the list of words (default: 'tokens', else the first field)"}
    )
    label_column_name: str | None = field(
        default=None,
        metadata={"help": "Field with the list of tags (default: '<task_name>_tags', else the second field)"},
    )
    max_seq_length: int | None = field(
        default=None,
        metadata={
            "help": "Maximum tokens per sentence (default: the model's limit, 512 for BERT); words cut off are not "
            "evaluated"
        },
    )
    label_all_tokens: bool = field(
        default=False,
        metadata={"help": "Give every word piece its word's tag (and evaluate every piece), not only the first"},
    )
    return_entity_level_metrics: bool = field(
        default=False, metadata={"help": "Report precision/recall/F1/number per entity type as well as overall"}
    )
    return_macro_metrics: bool = field(
        default=False,
        metadata={"help": "Also report the unweighted mean over entity types (EBM PICO): macro_precision/_recall/_f1"},
    )


class TokenClassification(Task):
    name = "tokcls"
    data_args_class = TokClsDataArguments
    # the label list is the set of train tags, so train is read even for eval/predict-only runs
    always_needed: ClassVar[tuple[str, ...]] = ("train",)
    token_labels = True  # padded with -100, so padding is never trained on or evaluated

    def __init__(self, data_args: TokClsDataArguments):
        super().__init__(data_args)
        self.text_field: str | None = None
        self.tag_field: str | None = None
        self._train_tags: set[str] = set()
        self.label_list: list[str] = []
        self.label2id: dict[str, int] = {}

    @property
    def model_class(self):
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification

    # ----- validation -----
    def check_record(self, split: str, record: dict) -> None:
        if self.text_field is None:
            self._choose_fields(record)
        words = require(record, self.text_field, list, "a list of words")
        tags = require(record, self.tag_field, list, "a list of tag strings")
        if not all(isinstance(word, str) for word in words):
            raise FieldError(self.text_field, "expected a list of strings")
        if not all(isinstance(tag, str) for tag in tags):
            raise FieldError(self.tag_field, "expected a list of tag strings (e.g. 'B-Disease', 'O')")
        if len(tags) != len(words):
            raise FieldError(
                self.tag_field,
                f"expected one tag per word: {len(words)} words in '{self.text_field}' but {len(tags)} tags",
            )
        check_optional_id(record)
        if split == "train":
            self._train_tags.update(tags)
            return
        unseen = sorted(set(tags).difference(self.label2id))
        if unseen:
            raise FieldError(
                self.tag_field, f"tag {unseen[0]!r} never seen in train (train tags: {', '.join(self.label_list[:20])})"
            )

    def _choose_fields(self, record: dict) -> None:
        """The original's column choice: the flag, else `tokens` / `<task_name>_tags`, else the first
        and second fields of the data (here: of the first train record)."""
        keys = list(record)

        def pick(flag: str | None, default: str, position: int) -> str:
            if flag:
                return flag
            return default if default in record or len(keys) <= position else keys[position]

        self.text_field = pick(self.data_args.text_column_name, "tokens", 0)
        self.tag_field = pick(self.data_args.label_column_name, f"{self.data_args.task_name}_tags", 1)

    def finish_check(self, split: str) -> None:
        if split == "train":
            self.label_list = sorted(self._train_tags)
            self.label2id = {tag: index for index, tag in enumerate(self.label_list)}

    # ----- model -----
    def config_overrides(self) -> dict:
        return {
            "num_labels": len(self.label_list),
            "label2id": dict(self.label2id),
            "id2label": dict(enumerate(self.label_list)),
        }

    def featurize(self, batch: dict[str, list], tokenizer, split: str) -> dict[str, list]:
        features = tokenizer(
            batch[self.text_field],
            is_split_into_words=True,
            truncation=True,
            max_length=self.max_length(tokenizer),
            padding=self.padding(),
        )
        features["labels"] = [
            align_labels(
                features.word_ids(index), [self.label2id[tag] for tag in tags], self.data_args.label_all_tokens
            ).tolist()
            for index, tags in enumerate(batch[self.tag_field])
        ]
        # kept for test_outputs.json, as the original did (the Trainer drops it before collation)
        features["word_ids"] = [features.word_ids(index) for index in range(len(features["input_ids"]))]
        return features

    # ----- outputs -----
    def decode(self, output, split: Split, file_prefix: str) -> Decoded:
        scores = logits(output.predictions)
        labels = padded_labels(split.features["labels"], scores.shape[1])
        predicted = scores.argmax(axis=-1)
        records = []
        for example_id, row_predicted, row_labels in zip(split.examples["id"], predicted, labels, strict=True):
            kept = row_labels != IGNORE
            records.append(
                {
                    "id": example_id,
                    "prediction": [self.label_list[i] for i in row_predicted[kept].tolist()],
                    "label": [self.label_list[i] for i in row_labels[kept].tolist()],
                }
            )
        # as the original: the test split's logits [N, L, C], label ids and each token's word index
        files = (
            {
                "test_outputs.json": raw_outputs(
                    output,
                    lengths=[len(ids) for ids in split.features["input_ids"]],
                    word_ids=list(split.features["word_ids"]),
                )
            }
            if file_prefix == "predict"
            else {}
        )
        return Decoded(records, files)

    def score(self, records: list[dict]) -> dict[str, float]:
        return ner_metrics(
            [r["prediction"] for r in records],
            [r["label"] for r in records],
            entity_level=self.data_args.return_entity_level_metrics,
            macro=self.data_args.return_macro_metrics,
        )


def align_labels(word_ids: list[int | None], tag_ids: list[int], label_all_tokens: bool = False) -> np.ndarray:
    """Per-token label ids for one tokenized sentence, as the original tokenize_and_align_labels:
    special tokens (word id None) get -100; a word's first piece gets the word's tag id; its later
    pieces get -100, or the same tag id with label_all_tokens."""
    words = np.array(word_ids, dtype=np.float64)  # None -> NaN, so the special tokens stay visible
    is_word = ~np.isnan(words)
    previous = np.concatenate(([np.nan], words[:-1]))
    first_piece = is_word & (words != previous)
    tags = np.asarray(tag_ids, dtype=np.int64)
    word_tags = np.full(words.shape, IGNORE, dtype=np.int64)
    word_tags[is_word] = tags[words[is_word].astype(np.int64)]
    return np.where(first_piece | (is_word & label_all_tokens), word_tags, IGNORE)


def padded_labels(rows: list[list[int]], length: int) -> np.ndarray:
    """Stack variable-length label rows into [N, length] with -100, matching the logits that the
    Trainer pads with -100 across batches (every row is at most as long as its batch)."""
    out = np.full((len(rows), length), IGNORE, dtype=np.int64)
    for index, row in enumerate(rows):
        out[index, : len(row)] = row
    return out
