"""Extractive question answering (MRQA: HotpotQA, TriviaQA, SearchQA, NaturalQuestions, NewsQA, SQuAD).

Examples (`id`, `question`, `context`, `answers` = {"text": [...], "answer_start": [...]}) become
overlapping windows over the context (`linkbert.finetune.tasks.qa.features`); the model's start/end logits are
decoded per example across its windows (`linkbert.finetune.tasks.qa.decode`) and scored with SQuAD v1.1 EM/F1
(`linkbert.finetune.metrics.squad`), as the original run_qa.py + utils_qa.py did. Besides the per-example
`<prefix>_predictions.jsonl`, the original's `<prefix>_predictions.json` (id -> answer) and
`<prefix>_nbest_predictions.json` are written. Each per-example record also carries `answer_start`
(the answer's character offset in the context, null for an empty answer) and `score` (its start +
end logit). A test file may have no `answers` at all (prediction on new text): nothing is scored.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from linkbert.errors import DataError, FieldError, UsageError
from linkbert.finetune.args import DataArguments
from linkbert.finetune.data import Split, require
from linkbert.finetune.metrics.squad import squad_scores
from linkbert.finetune.tasks.base import Decoded, Task
from linkbert.finetune.tasks.qa.decode import postprocess_predictions
from linkbert.finetune.tasks.qa.features import (
    prepare_eval_features,
    prepare_train_features,
)
from linkbert.jsonl import read_jsonl

logger = logging.getLogger(__name__)
SHOWN_MISMATCHES = 5


@dataclass
class QADataArguments(DataArguments):
    max_seq_length: int | None = field(default=384, metadata={"help": "Tokens per window (question + context slice)"})
    pad_to_max_length: bool = field(
        default=True,
        metadata={
            "help": "Pad every window to max_seq_length, as the original does (default). The start/end softmax of "
            "the QA loss spans "
            "the padded positions too, so --no_pad_to_max_length or --padding_free change the training loss slightly "
            "(not float noise)"
        },
    )
    doc_stride: int = field(
        default=128, metadata={"help": "Context tokens shared by consecutive windows of a long context"}
    )
    n_best_size: int = field(default=20, metadata={"help": "Start and end candidates kept per window when decoding"})
    max_answer_length: int = field(default=30, metadata={"help": "Longest answer, in tokens"})
    version_2_with_negative: bool = field(
        default=False, metadata={"help": "SQuAD v2 style: some questions have no answer"}
    )
    null_score_diff_threshold: float = field(
        default=0.0, metadata={"help": "With v2: predict no answer when null score - best span score exceeds this"}
    )
    do_not_use_token_type_ids: bool = field(default=False, metadata={"help": "Drop token_type_ids from the features"})
    on_span_mismatch: str = field(
        default="warn",
        metadata={
            "help": "When an answer's text is not found at its answer_start in the context: 'warn' (count, name the "
            "ids, keep the example) or 'error'"
        },
    )


class ExtractiveQA(Task):
    name = "qa"
    data_args_class = QADataArguments

    def __init__(self, data_args: QADataArguments):
        super().__init__(data_args)
        if data_args.on_span_mismatch not in ("warn", "error"):
            raise UsageError(f"--on_span_mismatch {data_args.on_span_mismatch}: expected warn or error")
        for name in ("doc_stride", "n_best_size", "max_answer_length"):
            if getattr(data_args, name) < 1:
                raise UsageError(f"--{name} {getattr(data_args, name)}: expected a positive number")
        if data_args.doc_stride >= (data_args.max_seq_length or 512):
            raise UsageError(
                f"--doc_stride {data_args.doc_stride} must be smaller than --max_seq_length {data_args.max_seq_length}"
            )
        self._mismatched: list[str] = []  # ids of the split being checked whose answer_start is off
        self._ids: set[str] = set()  # ids of the split being checked: decoding keys answers by id

    @property
    def model_class(self):
        from transformers import AutoModelForQuestionAnswering

        return AutoModelForQuestionAnswering

    def check_record(self, split: str, record: dict) -> None:
        example_id = require(record, "id", (str, int), "a string id")
        if str(example_id) in self._ids:
            raise FieldError("id", f"{example_id!r} appears twice in this file; answers are decoded per id")
        self._ids.add(str(example_id))
        require(record, "question", str, "a string")
        context = require(record, "context", str, "a string")
        if not context.strip():
            raise FieldError("context", "empty")
        if not self.label_present(split, record, "answers"):
            return
        answers = require(record, "answers", dict, 'an object {"text": [...], "answer_start": [...]}')
        texts, starts = answers.get("text"), answers.get("answer_start")
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise FieldError("answers.text", "expected a list of strings")
        if not isinstance(starts, list) or not all(isinstance(s, int) and not isinstance(s, bool) for s in starts):
            raise FieldError("answers.answer_start", "expected a list of integers")
        if len(texts) != len(starts):
            raise FieldError("answers", f"{len(texts)} texts but {len(starts)} answer_start values")
        for text, start in zip(texts, starts, strict=True):
            if context[start : start + len(text)] != text:
                if self.data_args.on_span_mismatch == "error":
                    raise FieldError(
                        "answers.answer_start",
                        f"the context at {start} reads {context[start : start + len(text)]!r:.60}, not the answer "
                        f"{text!r:.60}",
                    )
                self._mismatched.append(str(example_id))

    def finish_check(self, split: str) -> None:
        self._ids = set()
        if self._mismatched:
            logger.warning(
                "%s: %d answers are not found at their answer_start (kept; --on_span_mismatch error to stop), e.g. "
                "ids %s",
                split,
                len(self._mismatched),
                ", ".join(self._mismatched[:SHOWN_MISMATCHES]),
            )
            self._mismatched = []

    def check_with_tokenizer(self, split: str, path, tokenizer) -> None:
        """Every question must leave more than --doc_stride tokens for the context in a window: the
        windows overlap by doc_stride tokens, and the tokenizer cannot make them otherwise (the
        original failed deep inside tokenization, after loading everything)."""
        window = self.max_length(tokenizer)
        special = tokenizer.num_special_tokens_to_add(pair=True)
        lines, questions = [], []
        for line, record in read_jsonl(path):
            lines.append(line)
            questions.append(record["question"].lstrip())
        for start in range(0, len(questions), 1000):
            lengths = [
                len(ids) for ids in tokenizer(questions[start : start + 1000], add_special_tokens=False)["input_ids"]
            ]
            for offset, length in enumerate(lengths):
                room = window - length - special
                if room <= self.data_args.doc_stride:
                    raise DataError(
                        path,
                        f"the question is {length} tokens long, leaving {room} of the {window}-token window for the "
                        f"context: --doc_stride {self.data_args.doc_stride} must be smaller (raise --max_seq_length "
                        "or lower --doc_stride)",
                        line=lines[start + offset],
                        field="question",
                    )

    def featurize(self, batch: dict[str, list], tokenizer, split: str) -> dict[str, list]:
        prepare = prepare_train_features if split == "train" else prepare_eval_features
        return prepare(
            batch,
            tokenizer,
            max_seq_length=self.max_length(tokenizer),
            doc_stride=self.data_args.doc_stride,
            pad_to_max_length=self.data_args.pad_to_max_length,
            do_not_use_token_type_ids=self.data_args.do_not_use_token_type_ids,
        )

    def decode(self, output, split: Split, file_prefix: str) -> Decoded:
        start_logits, end_logits = output.predictions[:2]
        args = self.data_args
        decoded = postprocess_predictions(
            split.examples,
            split.features,
            start_logits,
            end_logits,
            n_best_size=args.n_best_size,
            max_answer_length=args.max_answer_length,
            version_2_with_negative=args.version_2_with_negative,
            null_score_diff_threshold=args.null_score_diff_threshold,
        )
        ids = split.examples["id"]
        golds = split.examples["answers"] if split.labelled else [None] * len(ids)
        records = []
        for example_id, answers in zip(ids, golds, strict=True):
            record = {"id": example_id, "prediction": decoded.predictions[example_id]}
            if split.labelled:
                record["label"] = answers["text"]
            record["answer_start"] = decoded.answer_starts[example_id]
            record["score"] = decoded.scores[example_id]
            records.append(record)
        # the original's id -> answer and n-best files (and the null-score differences with v2)
        files = {
            f"{file_prefix}_predictions.json": decoded.predictions,
            f"{file_prefix}_nbest_predictions.json": decoded.nbest,
        }
        if decoded.null_score_diffs is not None:
            files[f"{file_prefix}_null_odds.json"] = decoded.null_score_diffs
        return Decoded(records, files)

    def score(self, records: list[dict]) -> dict[str, float]:
        return squad_scores({r["id"]: r["prediction"] for r in records}, {r["id"]: r["label"] for r in records})

    def sample_count(self, split: Split) -> int:
        """The original run_qa reports the number of windows (features), not of questions."""
        return len(split.features)
