"""SQuAD v1.1 exact match and F1, as the official evaluation script defines them (the MRQA metric).

The original run_qa.py scored with `load_metric("squad")`, which wraps that script; it is rewritten
here so no code is fetched from the Hub. Answers are normalised (lower case, punctuation removed,
the articles a/an/the removed as whole words, whitespace collapsed); F1 is the token-overlap F1 of
the normalised answers. Each prediction is scored against every gold answer and the best score
counts; the means are reported on 0-100.

v1.1 quirks kept on purpose: F1 is 0 whenever the two answers share no token, so an empty
prediction against an empty gold answer has exact match 1 but F1 0; a question missing from the
predictions scores 0 on both.
"""

from __future__ import annotations

import logging
import re
import string
from collections import Counter
from collections.abc import Mapping, Sequence

logger = logging.getLogger(__name__)

_PUNCTUATION = frozenset(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize_answer(text: str) -> str:
    """Lower-case, drop punctuation, drop the articles a/an/the, collapse whitespace, in the official
    script's order: punctuation goes before articles, so "the-end" becomes "theend", not "end"."""
    text = text.lower()
    text = "".join(character for character in text if character not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


def f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall, counting repeated tokens at most as often as
    they occur in both answers."""
    prediction_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    shared = sum((Counter(prediction_tokens) & Counter(gold_tokens)).values())
    if shared == 0:
        return 0.0
    precision = shared / len(prediction_tokens)
    recall = shared / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def best_over_golds(score, prediction: str, golds: Sequence[str]) -> float:
    return max(score(prediction, gold) for gold in golds)


def squad_scores(predictions: Mapping[str, str], references: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """Mean exact match and F1 (0-100) over the questions of `references` (id -> gold answer texts).
    Predictions for ids not in `references` are ignored; a missing prediction scores 0."""
    if not references:
        raise ValueError("squad_scores: no reference answers to score against")
    total_em = total_f1 = 0.0
    missing = 0
    for question_id, golds in references.items():
        if len(golds) == 0:
            raise ValueError(
                f"squad_scores: question {question_id!r} has no gold answer (SQuAD v1.1 needs at least one)"
            )
        if question_id not in predictions:
            missing += 1
            continue
        total_em += best_over_golds(exact_match, predictions[question_id], golds)
        total_f1 += best_over_golds(f1, predictions[question_id], golds)
    if missing:
        # The official script prints one line per unanswered question; one summary line is enough.
        logger.warning("%d of %d questions have no prediction and score 0", missing, len(references))
    return {"exact_match": 100.0 * total_em / len(references), "f1": 100.0 * total_f1 / len(references)}
