"""Turn extractive-QA examples into model features: sliding windows over the context.

Each example (`id`, `question`, `context`, `answers` = {"text": [...], "answer_start": [...]}) becomes
one or more windows `[CLS] question [SEP] context-slice [SEP]` of at most `max_seq_length` tokens.
Only the context is truncated; consecutive windows share `doc_stride` context tokens (the HF
tokenizers meaning of `stride`, which is what the original run_qa.py's `--doc_stride 128` did).

Both functions take a batch as `datasets.Dataset.map(batched=True)` passes it (a dict of equal-length
lists) and return a dict of lists with one entry per window, so they are used as

    dataset.map(prepare_train_features, batched=True, remove_columns=dataset.column_names,
                fn_kwargs={"tokenizer": tokenizer, "max_seq_length": 384, "doc_stride": 128})

Training windows carry `start_positions` / `end_positions`; evaluation windows carry `example_id`
and `offset_mapping`, which `linkbert.finetune.tasks.qa.decode` needs to map token spans back to context text.

Offset sentinel: in evaluation features every position that is not a context token (the question,
[CLS], [SEP], padding) has the offset `[-1, -1]` (NOT_CONTEXT) instead of the `None` the HF example
scripts use. It keeps the column a plain `list<list<int64>>` in Arrow, so the decoder can read a whole
split into one integer array without a Python pass over every token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from linkbert.errors import UsageError

NOT_CONTEXT = (-1, -1)


def prepare_train_features(
    batch: Mapping[str, Sequence],
    tokenizer,
    max_seq_length: int = 384,
    doc_stride: int = 128,
    pad_to_max_length: bool = False,
    do_not_use_token_type_ids: bool = False,
) -> dict[str, list]:
    """Windows with `start_positions` / `end_positions` labels for training.

    Only the first gold answer is used (as the original). A window that does not contain the whole
    answer, and every window of an example without answers, points both labels at [CLS]."""
    encoded = _tokenize_windows(batch, tokenizer, max_seq_length, doc_stride, pad_to_max_length)
    sample_of_window = encoded.pop("overflow_to_sample_mapping")
    all_offsets = encoded.pop("offset_mapping")
    starts, ends = [], []
    for window, sample in enumerate(sample_of_window):
        answer_chars = _first_answer_chars(batch["answers"][sample])
        cls_index = int(np.flatnonzero(np.asarray(encoded["input_ids"][window]) == tokenizer.cls_token_id)[0])
        if answer_chars is None:
            starts.append(cls_index)
            ends.append(cls_index)
            continue
        offsets = np.asarray(all_offsets[window], dtype=np.int64).reshape(-1, 2)
        start, end = answer_token_span(offsets, _context_mask(encoded, window), *answer_chars, cls_index)
        starts.append(start)
        ends.append(end)
    encoded["start_positions"] = starts
    encoded["end_positions"] = ends
    return _finish(encoded, do_not_use_token_type_ids)


def prepare_eval_features(
    batch: Mapping[str, Sequence],
    tokenizer,
    max_seq_length: int = 384,
    doc_stride: int = 128,
    pad_to_max_length: bool = False,
    do_not_use_token_type_ids: bool = False,
) -> dict[str, list]:
    """Windows for evaluation/prediction: the same windows as training, plus `example_id` (the `id`
    of the example the window came from) and `offset_mapping` with NOT_CONTEXT ([-1, -1]) at every
    position outside the context, so the decoder can only ever pick context spans."""
    encoded = _tokenize_windows(batch, tokenizer, max_seq_length, doc_stride, pad_to_max_length)
    sample_of_window = encoded.pop("overflow_to_sample_mapping")
    encoded["example_id"] = [batch["id"][sample] for sample in sample_of_window]
    masked = []
    for window, offsets in enumerate(encoded["offset_mapping"]):
        offsets = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
        offsets[~_context_mask(encoded, window)] = NOT_CONTEXT
        masked.append(offsets.tolist())
    encoded["offset_mapping"] = masked
    return _finish(encoded, do_not_use_token_type_ids)


def answer_token_span(
    offsets: np.ndarray, is_context: np.ndarray, start_char: int, end_char: int, cls_index: int
) -> tuple[int, int]:
    """Token positions (start, end), both inclusive, of the character span [start_char, end_char)
    within one window; (cls_index, cls_index) when the window does not cover the whole span.

    The start token is the last context token starting at or before start_char and the end token
    the first context token ending at or after end_char, so an answer boundary inside a word piece
    still selects the piece that holds it (the original behaviour)."""
    context_positions = np.flatnonzero(is_context)
    if context_positions.size == 0:
        return cls_index, cls_index
    token_starts = offsets[context_positions, 0]
    token_ends = offsets[context_positions, 1]
    if token_starts[0] > start_char or token_ends[-1] < end_char:
        return cls_index, cls_index
    # Context offsets are non-decreasing, so both searches are binary searches over the window.
    start = context_positions[np.searchsorted(token_starts, start_char, side="right") - 1]
    end = context_positions[np.searchsorted(token_ends, end_char, side="left")]
    return int(start), int(end)


def _tokenize_windows(batch, tokenizer, max_seq_length, doc_stride, pad_to_max_length):
    if not getattr(tokenizer, "is_fast", False):
        raise UsageError(
            "extractive QA needs a fast (Rust) tokenizer: it relies on offset mappings and overflow windows"
        )
    # Some questions start with runs of whitespace; tokenizers that keep spaces (byte-level BPE) turn
    # them into tokens that eat the window and can leave no room for the context, so strip them
    # (the original does the same).
    questions = [question.lstrip() for question in batch["question"]]
    return tokenizer(
        questions,
        batch["context"],
        truncation="only_second",
        max_length=max_seq_length,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding="max_length" if pad_to_max_length else False,
    )


def _context_mask(encoded, window: int) -> np.ndarray:
    # sequence_ids holds None for special tokens and padding; as floats those become NaN, which
    # compares unequal to 1, so the mask needs no Python pass over the tokens.
    return np.asarray(encoded.sequence_ids(window), dtype=np.float64) == 1


def _first_answer_chars(answers: Mapping[str, Sequence]) -> tuple[int, int] | None:
    if not answers or len(answers["answer_start"]) == 0:
        return None
    start = int(answers["answer_start"][0])
    return start, start + len(answers["text"][0])


def _finish(encoded, do_not_use_token_type_ids: bool) -> dict[str, list]:
    features = dict(encoded)
    if do_not_use_token_type_ids:
        # The original's --do_not_use_token_type_ids: for checkpoints trained without segment ids.
        features.pop("token_type_ids", None)
    return features
