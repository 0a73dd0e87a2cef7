"""Token classification / NER (BLURB: BC2GM, BC5CDR-chem, BC5CDR-disease, NCBI-disease, JNLPBA,
EBM PICO), as the original tokcls/run_ner.py.

Records are `{"tokens": [word, ...], "ner_tags": [tag, ...], "id"}` with string tags. The label set
is the sorted union of the train tags (written to the config); a dev or test tag never seen in train
is an input error (the original failed with a KeyError). Words are split into WordPieces; only each
word's first piece carries the word's tag and is evaluated, unless --label_all_tokens, which gives
every piece the word's tag (B- kept as is, not changed to I-) and evaluates every piece.

Without a train file and without --do_train (predicting with a fine-tuned checkpoint), the tags are
the checkpoint's `id2label`. A test file may have no tags: each record then gets one predicted tag
per word, its first piece's (null for a word the model saw no piece of: past the cut of a sentence
longer than --max_seq_length, which the run counts in a warning, or a word the tokenizer turns into
no piece at all). Every record also lists its `entities`: the spans seqeval's default (non-strict)
mode reads from the word tags, with character offsets into the sentence as written with its words
joined by single spaces (`" ".join(tokens)[start:end] == text`).
"""

from __future__ import annotations

import logging
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
    default_label_names,
    logits,
    no_checkpoint_labels,
    other_head,
)

IGNORE = -100  # the label id PyTorch's cross-entropy and the original evaluation skip
logger = logging.getLogger("linkbert")


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
    # the label list is the set of train tags, so train is read whenever given (else the checkpoint's tags)
    always_needed: ClassVar[tuple[str, ...]] = ("train",)
    token_labels = True  # padded with -100, so padding is never trained on or evaluated

    def __init__(self, data_args: TokClsDataArguments):
        super().__init__(data_args)
        self.text_field: str | None = None
        self.tag_field: str | None = None
        self._train_tags: set[str] = set()
        self.label_list: list[str] = []
        self.label2id: dict[str, int] = {}
        self.label_source = "train"  # or "checkpoint" (labels_from_checkpoint)

    @property
    def model_class(self):
        from transformers import AutoModelForTokenClassification

        return AutoModelForTokenClassification

    # ----- validation -----
    def check_record(self, split: str, record: dict) -> None:
        if self.text_field is None:
            self._choose_fields(record)
        words = require(record, self.text_field, list, "a list of words")
        if not all(isinstance(word, str) for word in words):
            raise FieldError(self.text_field, "expected a list of strings")
        check_optional_id(record)
        if not self.label_present(split, record, self.tag_field):
            return
        tags = require(record, self.tag_field, list, "a list of tag strings")
        if not all(isinstance(tag, str) for tag in tags):
            raise FieldError(self.tag_field, "expected a list of tag strings (e.g. 'B-Disease', 'O')")
        if len(tags) != len(words):
            raise FieldError(
                self.tag_field,
                f"expected one tag per word: {len(words)} words in '{self.text_field}' but {len(tags)} tags",
            )
        if split == "train":
            self._train_tags.update(tags)
            return
        unseen = sorted(set(tags).difference(self.label2id))
        if unseen:
            known = ", ".join(self.label_list[:20])
            raise FieldError(
                self.tag_field,
                f"tag {unseen[0]!r} never seen in train (train tags: {known})"
                if self.label_source == "train"
                else f"tag {unseen[0]!r} is not one of the checkpoint's tags ({known})",
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
        if not self.data_args.label_column_name and (
            self.tag_field == self.text_field or not isinstance(record.get(self.tag_field), list)
        ):
            # the second field is the words or the id: a record without tags (prediction on new text)
            self.tag_field = f"{self.data_args.task_name}_tags"

    def finish_check(self, split: str) -> None:
        if split == "train":
            self.label_list = sorted(self._train_tags)
            self.label2id = {tag: index for index, tag in enumerate(self.label_list)}

    def labels_from_checkpoint(self, config, name: str) -> None:
        """The checkpoint's tags (its id2label), refused when they are transformers' placeholder names
        (a checkpoint never fine-tuned for NER) or the checkpoint has another head."""
        head = other_head(config, "ForTokenClassification")
        if head is not None:
            raise no_checkpoint_labels(name, f"its config names {head}, not a ...ForTokenClassification head")
        id2label = {int(index): str(tag) for index, tag in config.id2label.items()}
        if default_label_names(id2label):
            raise no_checkpoint_labels(name, "its config has no tag names: id2label is LABEL_0, LABEL_1, ...")
        self.label_list = [id2label[index] for index in range(config.num_labels)]
        self.label2id = {tag: index for index, tag in enumerate(self.label_list)}
        self.label_source = "checkpoint"

    # ----- model -----
    def config_overrides(self) -> dict:
        if self.label_source == "checkpoint":
            return {}  # the checkpoint's own tags
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
        if self.labelled(split):
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
        predicted = scores.argmax(axis=-1)
        word_ids = split.features["word_ids"]
        words = split.examples[self.text_field]
        rows = padded_labels(split.features["labels"], scores.shape[1]) if split.labelled else [None] * len(words)
        records, cut = [], 0
        for example_id, row_predicted, row_labels, row_word_ids, row_words in zip(
            split.examples["id"], predicted, rows, word_ids, words, strict=True
        ):
            # each word's tag is its first piece's; None for a word without pieces (cut off, or empty)
            word_tags: list[str | None] = [None] * len(row_words)
            first = first_pieces(row_word_ids)
            for word, index in zip(
                np.asarray(row_word_ids)[first].tolist(), row_predicted[first].tolist(), strict=True
            ):
                word_tags[word] = self.label_list[index]
            cut += word_tags[-1:] == [None]
            record = {"id": example_id}
            if split.labelled:  # the positions evaluated, as the original (every piece with --label_all_tokens)
                kept = row_labels != IGNORE
                record["prediction"] = [self.label_list[i] for i in row_predicted[kept].tolist()]
                record["label"] = [self.label_list[i] for i in row_labels[kept].tolist()]
            else:
                record["prediction"] = word_tags
            record["entities"] = entity_spans(row_words, word_tags)
            records.append(record)
        if cut and not split.labelled:
            logger.warning(
                "%s: %d of %d sentences are longer than --max_seq_length allows: their last words have no predicted "
                "tag (null)",
                split.name,
                cut,
                len(records),
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


def first_pieces(word_ids: list[int | None]) -> np.ndarray:
    """Positions of each word's first piece in one tokenized sentence, in word order."""
    words = np.array(word_ids, dtype=np.float64)  # None -> NaN
    previous = np.concatenate(([np.nan], words[:-1]))
    return np.flatnonzero(~np.isnan(words) & (words != previous))


def entity_spans(words: list[str], tags: list[str | None]) -> list[dict]:
    """The entities of one sentence, as seqeval's default (non-strict) mode reads them from its word
    tags (one per word; None, a word without a prediction, reads as O): {"type", "start", "end",
    "text", "words": [first, last + 1]}, with start/end character offsets into " ".join(words), so
    that text == " ".join(words)[start:end]."""
    import warnings

    from seqeval.metrics.sequence_labeling import get_entities

    starts = np.cumsum([0] + [len(word) + 1 for word in words[:-1]]).tolist()
    with warnings.catch_warnings():  # seqeval warns about tags without a B-/I- prefix; it reads them all the same
        warnings.simplefilter("ignore", UserWarning)
        chunks = get_entities(["O" if tag is None else tag for tag in tags])
    spans = []
    for kind, first, last in chunks:
        start, end = starts[first], starts[last] + len(words[last])
        spans.append(
            {
                "type": kind,
                "start": start,
                "end": end,
                "text": " ".join(words[first : last + 1]),
                "words": [first, last + 1],
            }
        )
    return spans


def padded_labels(rows: list[list[int]], length: int) -> np.ndarray:
    """Stack variable-length label rows into [N, length] with -100, matching the logits that the
    Trainer pads with -100 across batches (every row is at most as long as its batch)."""
    out = np.full((len(rows), length), IGNORE, dtype=np.int64)
    for index, row in enumerate(rows):
        out[index, : len(row)] = row
    return out
