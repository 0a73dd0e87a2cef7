"""Span decoding on hand-made logits, and against a brute-force double loop on random logits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linkbert.finetune.tasks.qa.decode import postprocess_predictions, top_k_positions

# Word w starts at character 3 * w: "aa"=0, "bb"=3, "cc"=6, "dd"=9, "ee"=12, "ff"=15, "gg"=18.
CONTEXT = "aa bb cc dd ee ff gg"
LOW = -10.0
OUT = [-1, -1]


def word_span(word: int) -> list[int]:
    return [3 * word, 3 * word + 2]


def window(example_id: str, words: range) -> dict:
    """[CLS] question [SEP] <words> [SEP]: context word words[i] sits at position 3 + i."""
    return {"example_id": example_id, "offset_mapping": [OUT, OUT, OUT] + [word_span(w) for w in words] + [OUT]}


def logits(length: int, **high: float) -> np.ndarray:
    """A row of LOW logits with the given positions ("p3"=2.0 means position 3) raised."""
    row = np.full(length, LOW)
    for name, value in high.items():
        row[int(name[1:])] = value
    return row


def decode(features, starts, ends, **settings):
    examples = [
        {"id": example_id, "context": CONTEXT} for example_id in dict.fromkeys(f["example_id"] for f in features)
    ]
    return postprocess_predictions(examples, features, np.stack(starts), np.stack(ends), **settings)


def test_best_span_across_two_windows_wins_and_probabilities_are_a_softmax():
    features = [window("e", range(0, 4)), window("e", range(3, 7))]
    # Window 0: "aa bb" (positions 3..4) scores 2 + 2 = 4; window 1: "ee ff" (positions 4..5) 3 + 3 = 6.
    starts = [logits(8, p3=2.0), logits(8, p4=3.0)]
    ends = [logits(8, p4=2.0), logits(8, p5=3.0)]
    result = decode(features, starts, ends, n_best_size=2)
    assert result.predictions == {"e": "ee ff"}
    assert result.null_score_diffs is None
    # With n_best_size=2 each window's second start/end is the lowest LOW position, [CLS], which is
    # out of context, so the n-best is exactly the two spans: softmax(6, 4) = (1, e^-2) / (1 + e^-2).
    nbest = result.nbest["e"]
    assert [entry["text"] for entry in nbest] == ["ee ff", "aa bb"]
    assert nbest[0]["probability"] == pytest.approx(1 / (1 + math.exp(-2)))
    assert nbest[1]["probability"] == pytest.approx(math.exp(-2) / (1 + math.exp(-2)))
    assert (nbest[0]["start_logit"], nbest[0]["end_logit"]) == (3.0, 3.0)
    # where the answer starts in the context, and its score (start + end logit)
    assert result.answer_starts == {"e": 12} and result.scores == {"e": 6.0}


def test_spans_longer_than_max_answer_length_are_skipped():
    features = [window("e", range(0, 7))]
    # "aa .. gg" (positions 3..9, 7 tokens) scores 10; "cc dd" (positions 5..6) scores 2.
    starts = [logits(11, p3=5.0, p5=1.0)]
    ends = [logits(11, p9=5.0, p6=1.0)]
    assert decode(features, starts, ends, max_answer_length=3).predictions == {"e": "cc dd"}
    assert decode(features, starts, ends, max_answer_length=7).predictions == {"e": "aa bb cc dd ee ff gg"}


def test_end_before_start_is_skipped():
    features = [window("e", range(0, 7))]
    # Top-2 starts {8, 5}, top-2 ends {4, 5}: (8,4), (8,5), (5,4) end before their start; (5,5) is "cc".
    starts = [logits(11, p8=5.0, p5=1.0)]
    ends = [logits(11, p4=5.0, p5=1.0)]
    assert decode(features, starts, ends, n_best_size=2).predictions == {"e": "cc"}


def test_out_of_context_and_padded_positions_are_skipped():
    features = [window("e", range(0, 4))]  # 8 positions; the logits are padded to 12 as the Trainer does
    starts = [logits(12, p0=9.0, p1=8.0, p10=9.0, p4=1.0)]
    ends = [logits(12, p0=9.0, p7=8.0, p11=9.0, p5=1.0)]
    assert decode(features, starts, ends).predictions == {"e": "bb cc"}


def test_empty_when_no_candidate_survives():
    features = [window("e", range(0, 4))]
    starts = [logits(8, p6=1.0)]
    ends = [logits(8, p4=1.0)]  # the only top-1 pair ends before it starts
    result = decode(features, starts, ends, n_best_size=1)
    assert result.predictions == {"e": "empty"}
    assert result.nbest == {"e": [{"text": "empty", "probability": 1.0, "start_logit": 0.0, "end_logit": 0.0}]}
    assert result.answer_starts == {"e": None} and result.scores == {"e": None}  # "empty" is no span


def v2_case(threshold: float):
    features = [window("e", range(0, 4)), window("e", range(3, 7))]
    # Null scores: window 0 1 + 1 = 2, window 1 0.5 + 0.5 = 1, so the null score is min = 1.
    # Best span "dd ee" in window 1 (positions 3..4): 1.5 + 1.5 = 3. Difference 1 - 3 = -2.
    starts = [logits(8, p0=1.0), logits(8, p0=0.5, p3=1.5)]
    ends = [logits(8, p0=1.0), logits(8, p0=0.5, p4=1.5)]
    return decode(
        features, starts, ends, version_2_with_negative=True, null_score_diff_threshold=threshold, n_best_size=3
    )


def test_v2_null_answer_on_both_sides_of_the_threshold():
    above = v2_case(threshold=0.0)  # -2 > 0 is false: keep the span
    assert above.predictions == {"e": "dd ee"}
    assert above.null_score_diffs == {"e": pytest.approx(-2.0)}
    assert above.answer_starts == {"e": 9} and above.scores == {"e": 3.0}
    below = v2_case(threshold=-2.5)  # -2 > -2.5: predict no answer
    assert below.predictions == {"e": ""}
    assert below.answer_starts == {"e": None} and below.scores == {"e": 1.0}  # the null answer's score
    texts = [entry["text"] for entry in below.nbest["e"]]
    assert texts[0] == "dd ee" and "" in texts
    null = below.nbest["e"][texts.index("")]
    assert (null["start_logit"], null["end_logit"]) == (0.5, 0.5)
    assert sum(entry["probability"] for entry in below.nbest["e"]) == pytest.approx(1.0)


def test_v2_without_any_span_scores_against_empty():
    features = [window("e", range(0, 4))]
    result = decode(
        features, [logits(8, p0=2.0, p6=1.0)], [logits(8, p0=1.0, p4=1.0)], version_2_with_negative=True, n_best_size=1
    )
    # No span: best non-null is "empty" with score 0; null score 3 - 0 > 0, so the answer is "".
    assert result.predictions == {"e": ""}
    assert result.null_score_diffs == {"e": 3.0}
    assert [entry["text"] for entry in result.nbest["e"]] == ["empty", ""]


def test_top_k_positions_breaks_ties_towards_lower_positions():
    row = np.array([[0.0, 5.0, 1.0, 5.0, 1.0, 1.0]])
    assert top_k_positions(row, 3).tolist() == [[1, 2, 3]]
    assert top_k_positions(row, 10).tolist() == [[0, 1, 2, 3, 4, 5]]


# ---- brute force ----------------------------------------------------------------------------


def brute_force(examples, features, starts, ends, n_best, max_length, v2, threshold):
    """The documented behaviour written as plainly as possible: every (start, end) pair, kept when
    both are in their window's top-n (ties to the lower position) and the span is valid."""
    predictions, nbest, diffs = {}, {}, {}
    for example in examples:
        spans, null = [], None
        for f, feature in enumerate(features):
            if feature["example_id"] != example["id"]:
                continue
            offsets = feature["offset_mapping"]
            length = len(starts[f])
            top_starts = sorted(range(length), key=lambda i: (-starts[f][i], i))[:n_best]
            top_ends = sorted(range(length), key=lambda i: (-ends[f][i], i))[:n_best]
            for s in range(length):
                for e in range(length):
                    if s not in top_starts or e not in top_ends or s >= len(offsets) or e >= len(offsets):
                        continue
                    if offsets[s] == OUT or offsets[e] == OUT or e < s or e - s + 1 > max_length:
                        continue
                    score = starts[f][s] + ends[f][e]
                    text = example["context"][offsets[s][0] : offsets[e][1]]
                    spans.append(((-score, f, s, e), (text, starts[f][s], ends[f][e])))
            null_score = starts[f][0] + ends[f][0]
            if null is None or null_score < null[0]:
                null = (null_score, ("", starts[f][0], ends[f][0]))
        spans = [entry for _, entry in sorted(spans)][:n_best]
        best = spans[0] if spans else ("empty", 0.0, 0.0)
        entries = list(spans)
        if v2:
            # The null entry goes after every span with a score >= its own.
            at = sum(1 for _, s, e in spans if s + e >= null[0])
            entries = (entries[:at] + [null[1]] + entries[at:])[:n_best]
            if null[1] not in entries:
                entries.append(null[1])
            diffs[example["id"]] = null[0] - best[1] - best[2]
        if not spans:
            entries.insert(0, best)
        scores = np.array([s + e for _, s, e in entries])
        probabilities = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        nbest[example["id"]] = [(text, p, s, e) for (text, s, e), p in zip(entries, probabilities, strict=True)]
        predictions[example["id"]] = "" if v2 and diffs[example["id"]] > threshold else best[0]
    return predictions, nbest, diffs


def random_case(rng):
    words = [f"w{i}" for i in range(40)]
    examples, features = [], []
    for example_index in range(rng.integers(1, 5)):
        context_words = words[: rng.integers(3, 40)]
        context = " ".join(context_words)
        word_starts = np.cumsum([0] + [len(w) + 1 for w in context_words[:-1]])
        examples.append({"id": f"e{example_index}", "context": context})
        for _ in range(rng.integers(1, 4)):
            first = rng.integers(0, len(context_words))
            last = min(len(context_words), first + rng.integers(1, 9))
            question = [OUT] * int(rng.integers(2, 5))
            spans = [[int(word_starts[w]), int(word_starts[w] + len(context_words[w]))] for w in range(first, last)]
            features.append({"example_id": f"e{example_index}", "offset_mapping": question + spans + [OUT]})
    width = max(len(f["offset_mapping"]) for f in features) + int(rng.integers(0, 3))
    if rng.random() < 0.5:
        # Small integers: plenty of ties, so the tie-breaking order is exercised too.
        starts, ends = rng.integers(-3, 4, size=(2, len(features), width)).astype(np.float64)
    else:
        starts, ends = rng.normal(size=(2, len(features), width))
    for f, feature in enumerate(features):
        starts[f, len(feature["offset_mapping"]) :] = ends[f, len(feature["offset_mapping"]) :] = -100.0
    return examples, features, starts, ends


@pytest.mark.parametrize("seed", range(300))
def test_vectorised_decoder_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    examples, features, starts, ends = random_case(rng)
    n_best, max_length = int(rng.integers(1, 7)), int(rng.integers(1, 6))
    v2, threshold = bool(rng.random() < 0.5), float(rng.normal())
    expected_predictions, expected_nbest, expected_diffs = brute_force(
        examples, features, starts, ends, n_best, max_length, v2, threshold
    )
    result = postprocess_predictions(examples, features, starts, ends, n_best, max_length, v2, threshold)
    assert result.predictions == expected_predictions
    for example_id, entries in expected_nbest.items():
        got = [(e["text"], e["probability"], e["start_logit"], e["end_logit"]) for e in result.nbest[example_id]]
        assert [g[0] for g in got] == [x[0] for x in entries]
        assert [g[2:] for g in got] == [x[2:] for x in entries]
        assert np.allclose([g[1] for g in got], [x[1] for x in entries])
    if v2:
        assert result.null_score_diffs == pytest.approx(expected_diffs)
    for example in examples:
        text, start = result.predictions[example["id"]], result.answer_starts[example["id"]]
        if start is None:
            assert text in ("", "empty")
            continue
        assert example["context"][start : start + len(text)] == text
        best = next(entry for entry in result.nbest[example["id"]] if entry["text"] == text)  # the null may rank first
        assert result.scores[example["id"]] == best["start_logit"] + best["end_logit"]


def test_dataset_input_matches_list_input_even_after_reordering():
    import datasets

    rng = np.random.default_rng(7)
    examples, features, starts, ends = random_case(rng)
    order = rng.permutation(len(features))
    shuffled = datasets.Dataset.from_list(features).select(order)
    from_lists = postprocess_predictions(examples, [features[i] for i in order], starts[order], ends[order], 3, 4, True)
    from_datasets = postprocess_predictions(
        datasets.Dataset.from_list(examples), shuffled, starts[order], ends[order], 3, 4, True
    )
    assert from_datasets == from_lists
