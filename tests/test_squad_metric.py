"""SQuAD v1.1 EM/F1 on hand-computed cases."""

from __future__ import annotations

import logging

import pytest

from linkbert.finetune.metrics.squad import exact_match, f1, normalize_answer, squad_scores


@pytest.mark.parametrize(
    "text, normalised",
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("  an   apple\tpie \n", "apple pie"),
        ("A.D. 1066!", "ad 1066"),
        ("theory of an anthem", "theory of anthem"),  # articles only as whole words
        ("the-end", "theend"),  # punctuation goes first, so "the" is no longer a word
        ("", ""),
    ],
)
def test_normalize_answer(text, normalised):
    assert normalize_answer(text) == normalised


def test_exact_match_ignores_case_punctuation_articles_and_spacing():
    assert exact_match("The  Beatles!", "beatles") == 1.0
    assert exact_match("Beatles", "The Rolling Stones") == 0.0
    assert exact_match("", "") == 1.0


def test_partial_overlap_f1():
    # pred "the big red dog" -> [big, red, dog]; gold "red dog barked" -> [red, dog, barked].
    # Shared {red, dog} = 2: precision 2/3, recall 2/3, F1 = 2 * (2/3)(2/3) / (4/3) = 2/3.
    assert f1("the big red dog", "red dog barked") == pytest.approx(2 / 3)
    # pred [red] vs gold [red, dog, barked]: precision 1/1, recall 1/3, F1 = 2 * (1/3) / (4/3) = 1/2.
    assert f1("Red.", "red dog barked") == pytest.approx(0.5)
    # Repeated tokens count at most as often as in both: pred [dog, dog] vs gold [dog]:
    # shared 1, precision 1/2, recall 1, F1 = 2 * (1/2) / (3/2) = 2/3.
    assert f1("dog dog", "dog") == pytest.approx(2 / 3)


def test_f1_is_zero_without_a_shared_token_even_for_two_empty_answers():
    assert f1("cat", "dog") == 0.0
    assert f1("", "dog") == 0.0
    assert f1("the", "a") == 0.0  # both normalise to nothing: v1.1 gives F1 0 (but EM 1)
    assert exact_match("the", "a") == 1.0


def test_scores_take_the_best_gold_and_average_over_references(caplog):
    references = {
        "q1": ["Denver Broncos", "The Broncos"],  # "broncos" vs [broncos]: EM 1, F1 1 (second gold)
        "q2": ["red dog barked"],  # F1 2/3 as above, EM 0
        "q3": ["Paris"],  # no prediction: 0 and 0
        "q4": ["1066", "in 1066"],  # "1066 AD" vs [1066]: P 1/2, R 1 -> F1 2/3; vs [in, 1066]: 1/2, 1/2 -> 1/2
    }
    predictions = {"q1": "broncos", "q2": "the big red dog", "q4": "1066 AD", "extra": "ignored"}
    with caplog.at_level(logging.WARNING):
        scores = squad_scores(predictions, references)
    assert scores["exact_match"] == pytest.approx(100 * 1 / 4)
    assert scores["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0 + 2 / 3) / 4)
    assert "1 of 4 questions have no prediction" in caplog.text


def test_scores_reject_a_question_without_gold_answers():
    with pytest.raises(ValueError, match="q9"):
        squad_scores({"q9": ""}, {"q9": []})
