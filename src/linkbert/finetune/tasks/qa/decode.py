"""Turn per-window start/end logits back into answer strings (the original's QA post-processing).

For every example, all its windows are searched together: in each window the `n_best_size`
highest start logits are crossed with the `n_best_size` highest end logits; a pair is a candidate
when both tokens lie in the context, end >= start, and the span has at most `max_answer_length`
tokens. Its score is start logit + end logit and the best-scoring candidate over all windows is
the answer, "empty" when there is none. The n-best list keeps the top `n_best_size` candidates
with probabilities = softmax over their scores.

SQuAD 2.0 style (`version_2_with_negative`): the null score of an example is the smallest
start_logit[0] + end_logit[0] ([CLS] is position 0) over its windows; the answer is "" when
null_score - best_span_score > null_score_diff_threshold. The null entry (text "") is always part of
the n-best list, and the per-example score differences are returned for threshold tuning.

Everything per token is numpy over all windows at once; Python only loops over the examples to
build the output dicts. Ordering is deterministic: the top-k tokens of a window are the k largest
logits with ties going to the lower position; candidates are ranked by score, ties broken by window
order (features order), then start position, then end position; the null entry ranks after spans
with an equal score. Among windows with the same null score, the first one supplies the null entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from linkbert.errors import UsageError

# Windows are decoded in chunks so the k x k candidate grids stay a few tens of MB at most.
_CHUNK = 4096


class QAPredictions(NamedTuple):
    predictions: dict[str, str]
    nbest: dict[str, list[dict]]
    null_score_diffs: dict[str, float] | None  # None unless version_2_with_negative
    # where each answer starts in its context (character offset), and its score (start + end logit);
    # for an empty answer (v2's "" or "empty" when no span survived) the start is None, and the score
    # that of the null answer (v2) or None
    answer_starts: dict[str, int | None]
    scores: dict[str, float | None]


class _Spans(NamedTuple):
    """Candidate spans as parallel arrays, one entry per candidate."""

    feature: np.ndarray
    rank: np.ndarray  # rank within its window (0 = best)
    char_start: np.ndarray
    char_end: np.ndarray
    start_logit: np.ndarray
    end_logit: np.ndarray

    @property
    def score(self) -> np.ndarray:
        return self.start_logit + self.end_logit

    def take(self, index) -> _Spans:
        return _Spans(*(column[index] for column in self))


def postprocess_predictions(
    examples,
    features,
    start_logits,
    end_logits,
    n_best_size: int = 20,
    max_answer_length: int = 30,
    version_2_with_negative: bool = False,
    null_score_diff_threshold: float = 0.0,
) -> QAPredictions:
    """Answers for `examples` (a datasets.Dataset or a list of dicts with `id`, `context`) from the
    logits of `features` (the same, with `example_id`, `offset_mapping` as written by
    `prepare_eval_features`); `start_logits` / `end_logits` are [n_features, seq_len] arrays (rows
    may be padded past a window's length, as the Trainer pads with -100). Returns
    (predictions id -> text, nbest id -> [{text, probability, start_logit, end_logit}],
    null_score_diffs id -> float or None, answer_starts id -> character offset in the context,
    scores id -> start + end logit of the answer)."""
    example_ids = _column(examples, "id")
    contexts = _column(examples, "context")
    example_of_feature = _example_index(example_ids, _column(features, "example_id"))
    start_logits, end_logits = _logit_arrays(start_logits, end_logits, len(example_of_feature))
    offsets = _RaggedOffsets.from_features(features)

    spans = _window_candidates(start_logits, end_logits, offsets, n_best_size, max_answer_length)
    spans, bounds = _best_per_example(spans, example_of_feature, len(example_ids), n_best_size)
    null_feature = _null_feature_per_example(start_logits, end_logits, example_of_feature, len(example_ids))

    predictions, nbest, answer_starts, scores = {}, {}, {}, {}
    null_score_diffs = {} if version_2_with_negative else None
    for index, (example_id, context) in enumerate(zip(example_ids, contexts, strict=True)):
        entries = _span_entries(spans, bounds[index], bounds[index + 1], context)
        null = None
        if version_2_with_negative and null_feature[index] >= 0:
            feature = null_feature[index]
            null = {
                "text": "",
                "start_logit": float(start_logits[feature, 0]),
                "end_logit": float(end_logits[feature, 0]),
            }
        best, entries = _finalise_nbest(entries, null, n_best_size)
        nbest[example_id] = entries
        predictions[example_id] = best["text"]
        answer_starts[example_id] = best["start"]
        scores[example_id] = best["start_logit"] + best["end_logit"] if best["start"] is not None else None
        if null is not None:
            difference = null["start_logit"] + null["end_logit"] - best["start_logit"] - best["end_logit"]
            null_score_diffs[example_id] = difference
            if difference > null_score_diff_threshold:
                predictions[example_id] = ""
                answer_starts[example_id] = None
                scores[example_id] = null["start_logit"] + null["end_logit"]
    return QAPredictions(predictions, nbest, null_score_diffs, answer_starts, scores)


def top_k_positions(logits: np.ndarray, k: int) -> np.ndarray:
    """[rows, k] positions of the k largest values of each row, in ascending position order; among
    equal values the lower positions are taken (a stable sort makes the choice deterministic)."""
    k = min(k, logits.shape[1])
    best = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return np.sort(best, axis=1)


class _RaggedOffsets:
    """Every window's offset_mapping stored back to back: `pairs[row_start[f] + t]` holds the
    (char start, char end) of token t of window f, NOT_CONTEXT ([-1, -1]) outside the context."""

    def __init__(self, lengths: np.ndarray, pairs: np.ndarray):
        self.lengths = lengths.astype(np.int64)
        self.row_start = np.cumsum(self.lengths) - self.lengths
        if pairs.size != 2 * self.lengths.sum():
            raise UsageError("every offset_mapping entry must be a [start, end] pair")
        # One extra NOT_CONTEXT row at the end: lookups past a window's end point there.
        self.pairs = np.concatenate([pairs.reshape(-1, 2).astype(np.int64), [[-1, -1]]])

    @classmethod
    def from_features(cls, features) -> _RaggedOffsets:
        if hasattr(features, "column_names"):
            return cls._from_dataset(features)
        try:
            rows = [np.asarray(feature["offset_mapping"], dtype=np.int64).reshape(-1, 2) for feature in features]
        except (TypeError, ValueError) as error:
            raise UsageError(
                f"offset_mapping must hold [start, end] int pairs, [-1, -1] outside the context: {error}"
            ) from None
        lengths = np.array([len(row) for row in rows], dtype=np.int64)
        pairs = np.concatenate(rows) if rows else np.zeros((0, 2), dtype=np.int64)
        return cls(lengths, pairs)

    @classmethod
    def _from_dataset(cls, features) -> _RaggedOffsets:
        # Read the Arrow column directly (the arrow format honours select()/shuffle indices): turning
        # a split's offsets into Python lists first would cost a Python object per token.
        column = features.with_format("arrow")["offset_mapping"]
        array = column.combine_chunks() if hasattr(column, "combine_chunks") else column
        pairs = array.flatten()
        if array.null_count or pairs.null_count:
            raise UsageError(
                "offset_mapping holds nulls: mark non-context tokens with [-1, -1] (prepare_eval_features does)"
            )
        lengths = array.value_lengths().to_numpy(zero_copy_only=False)
        return cls(lengths, pairs.flatten().to_numpy(zero_copy_only=False))

    def chars(self, feature: np.ndarray, position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(char start, char end) of token `position` of window `feature`, elementwise; -1 for
        tokens outside the context or past the window's end (logit padding)."""
        inside = position < self.lengths[feature]
        index = np.where(inside, self.row_start[feature] + position, len(self.pairs) - 1)
        return self.pairs[index, 0], self.pairs[index, 1]


def _window_candidates(start_logits, end_logits, offsets, n_best_size, max_answer_length) -> _Spans:
    chunks = [
        _chunk_candidates(
            start_logits,
            end_logits,
            offsets,
            first,
            min(first + _CHUNK, len(start_logits)),
            n_best_size,
            max_answer_length,
        )
        for first in range(0, len(start_logits), _CHUNK)
    ]
    if not chunks:
        empty_int, empty_float = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float64)
        return _Spans(empty_int, empty_int, empty_int, empty_int, empty_float, empty_float)
    return _Spans(*(np.concatenate(parts) for parts in zip(*chunks, strict=True)))


def _chunk_candidates(start_logits, end_logits, offsets, first, stop, n_best_size, max_answer_length) -> _Spans:
    """The best `n_best_size` valid spans of each window in [first, stop), best first."""
    start_logits, end_logits = start_logits[first:stop], end_logits[first:stop]
    windows = np.arange(first, stop)[:, None]
    starts = top_k_positions(start_logits, n_best_size)  # [W, k]
    ends = top_k_positions(end_logits, n_best_size)
    start_char, _ = offsets.chars(windows, starts)
    _, end_char = offsets.chars(windows, ends)

    # The k x k grid of (start, end) pairs per window: [W, k, k].
    length = ends[:, None, :] - starts[:, :, None] + 1
    valid = (start_char[:, :, None] >= 0) & (end_char[:, None, :] >= 0) & (length >= 1) & (length <= max_answer_length)
    start_value = np.take_along_axis(start_logits, starts, axis=1).astype(np.float64)
    end_value = np.take_along_axis(end_logits, ends, axis=1).astype(np.float64)
    score = np.where(valid, start_value[:, :, None] + end_value[:, None, :], -np.inf).reshape(len(windows), -1)

    # Both top-k lists are in position order, so the flattened grid is ordered by (start, end) and a
    # stable sort on the score keeps that order among ties.
    order = np.argsort(-score, axis=1, kind="stable")[:, :n_best_size]
    keep = np.isfinite(np.take_along_axis(score, order, axis=1))
    row, rank = np.nonzero(keep)
    start_slot, end_slot = np.divmod(order[row, rank], ends.shape[1])
    return _Spans(
        feature=row + first,
        rank=rank,
        char_start=start_char[row, start_slot],
        char_end=end_char[row, end_slot],
        start_logit=start_value[row, start_slot],
        end_logit=end_value[row, end_slot],
    )


def _best_per_example(spans: _Spans, example_of_feature, n_examples, n_best_size) -> tuple[_Spans, np.ndarray]:
    """Keep the best `n_best_size` spans of each example, sorted by example then rank; also return
    bounds such that example i owns spans[bounds[i]:bounds[i + 1]]."""
    example = example_of_feature[spans.feature]
    # lexsort's last key is the primary one: example, then score (descending), window, rank in window.
    order = np.lexsort((spans.rank, spans.feature, -spans.score, example))
    spans, example = spans.take(order), example[order]
    rank_in_example = np.arange(len(example)) - np.searchsorted(example, example, side="left")
    keep = rank_in_example < n_best_size
    spans, example = spans.take(keep), example[keep]
    return spans, np.searchsorted(example, np.arange(n_examples + 1), side="left")


def _null_feature_per_example(start_logits, end_logits, example_of_feature, n_examples) -> np.ndarray:
    """For each example, the window with the smallest [CLS] score (the first such window on ties);
    -1 for an example without windows."""
    null_score = start_logits[:, 0].astype(np.float64) + end_logits[:, 0].astype(np.float64)
    order = np.lexsort((np.arange(len(null_score)), null_score, example_of_feature))
    sorted_examples = example_of_feature[order]
    first_of_group = np.ones(len(order), dtype=bool)
    first_of_group[1:] = sorted_examples[1:] != sorted_examples[:-1]
    null_feature = np.full(n_examples, -1, dtype=np.int64)
    null_feature[sorted_examples[first_of_group]] = order[first_of_group]
    return null_feature


def _span_entries(spans: _Spans, lo: int, hi: int, context: str) -> list[dict]:
    return [
        {"text": context[start:end], "start": start, "start_logit": float(start_logit), "end_logit": float(end_logit)}
        for start, end, start_logit, end_logit in zip(
            spans.char_start[lo:hi].tolist(),
            spans.char_end[lo:hi].tolist(),
            spans.start_logit[lo:hi],
            spans.end_logit[lo:hi],
            strict=True,
        )
    ]


def _finalise_nbest(entries: list[dict], null: dict | None, n_best_size: int) -> tuple[dict, list[dict]]:
    """Return (best non-null entry, n-best list with probabilities). The list is the spans, the null
    entry merged in by score (kept even when it falls outside the top n_best_size, as the original),
    and an "empty" entry with zero logits put first when no span survived."""
    has_spans = bool(entries)
    best = entries[0] if has_spans else {"text": "empty", "start": None, "start_logit": 0.0, "end_logit": 0.0}
    if null is not None:
        null_score = null["start_logit"] + null["end_logit"]
        position = sum(1 for entry in entries if entry["start_logit"] + entry["end_logit"] >= null_score)
        merged = entries[:position] + [null] + entries[position:]
        entries = merged[:n_best_size] if position < n_best_size else merged[:n_best_size] + [null]
    if not has_spans:
        entries = [best] + entries
    scores = np.array([entry["start_logit"] + entry["end_logit"] for entry in entries])
    probabilities = np.exp(scores - scores.max())
    probabilities /= probabilities.sum()
    ranked = [
        {
            "text": entry["text"],
            "probability": float(probability),
            "start_logit": entry["start_logit"],
            "end_logit": entry["end_logit"],
        }
        for entry, probability in zip(entries, probabilities, strict=True)
    ]
    return best, ranked


def _column(rows, name: str) -> list:
    if hasattr(rows, "column_names"):
        return rows.with_format("arrow")[name].to_pylist()
    return [row[name] for row in rows]


def _example_index(example_ids: Sequence[str], feature_example_ids: Sequence[str]) -> np.ndarray:
    index = {example_id: position for position, example_id in enumerate(example_ids)}
    if len(index) != len(example_ids):
        raise UsageError("QA examples have duplicate ids: predictions are keyed by id")
    try:
        return np.array([index[example_id] for example_id in feature_example_ids], dtype=np.int64)
    except KeyError as error:
        raise UsageError(f"feature example_id {error.args[0]!r} is not the id of any example") from None


def _logit_arrays(start_logits, end_logits, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    start_logits, end_logits = np.asarray(start_logits), np.asarray(end_logits)
    if start_logits.ndim != 2 or start_logits.shape != end_logits.shape or len(start_logits) != n_features:
        raise UsageError(
            f"start/end logits must both be [n_features={n_features}, seq_len]; got {start_logits.shape} and "
            f"{end_logits.shape}"
        )
    return start_logits, end_logits
