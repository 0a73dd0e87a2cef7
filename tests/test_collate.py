"""PaddingCollator: hand-made batches, and the same tensors as the HuggingFace collators it replaces."""

import random

import pytest
import torch
from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding, default_data_collator

from linkbert.finetune.collator import PaddingCollator


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_a_batch_padded_by_hand():
    features = [
        {"input_ids": [2, 5, 3], "token_type_ids": [0, 0, 0], "attention_mask": [1, 1, 1], "labels": 1},
        {"input_ids": [2, 3], "token_type_ids": [0, 0], "attention_mask": [1, 1], "labels": 0},
    ]
    batch = PaddingCollator(pad_token_id=9, pad_to_multiple_of=4)(features)
    assert batch["input_ids"].tolist() == [[2, 5, 3, 9], [2, 3, 9, 9]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 0], [1, 1, 0, 0]]
    assert batch["token_type_ids"].tolist() == [[0, 0, 0, 0], [0, 0, 0, 0]]
    assert batch["labels"].tolist() == [1, 0] and batch["labels"].dtype == torch.int64


def test_token_labels_pad_with_minus_100_and_options_keep_their_own_axis():
    ner = [{"input_ids": [2, 7, 3], "labels": [-100, 4, -100]}, {"input_ids": [2, 3], "labels": [-100, -100]}]
    batch = PaddingCollator(pad_token_id=0, token_labels=True)(ner)
    assert batch["labels"].tolist() == [[-100, 4, -100], [-100, -100, -100]]
    choice = [{"input_ids": [[2, 5, 3], [2, 3]], "attention_mask": [[1, 1, 1], [1, 1]], "labels": 1}]
    batch = PaddingCollator(pad_token_id=0)(choice)
    assert batch["input_ids"].tolist() == [[[2, 5, 3], [2, 3, 0]]]
    assert batch["attention_mask"].shape == (1, 2, 3) and batch["labels"].tolist() == [1]


def test_left_padding_follows_the_tokenizer():
    batch = PaddingCollator(pad_token_id=0, padding_side="left")([{"input_ids": [2, 5, 3]}, {"input_ids": [2, 3]}])
    assert batch["input_ids"].tolist() == [[2, 5, 3], [0, 2, 3]]


def random_features(rng, count, label, lengths=(3, 40), options=None):
    def tokens(length):
        input_ids = [2] + [rng.randint(5, 150) for _ in range(length - 2)] + [3]
        token_type_ids = [0] * (length // 2) + [1] * (length - length // 2)
        return {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": [1] * length}

    features = []
    for _ in range(count):
        if options:
            per_option = [tokens(rng.randint(*lengths)) for _ in range(options)]
            feature = {key: [option[key] for option in per_option] for key in per_option[0]}
        else:
            feature = tokens(rng.randint(*lengths))
        feature.update(label(rng, feature))
        features.append(feature)
    return features


LABELS = {
    "class": lambda rng, f: {"labels": rng.randint(0, 2)},
    "regression": lambda rng, f: {"labels": rng.random() * 5},
    "multi-label": lambda rng, f: {"labels": [float(rng.random() < 0.3) for _ in range(10)]},
    "qa-positions": lambda rng, f: {"start_positions": rng.randint(0, 5), "end_positions": rng.randint(5, 9)},
}


def assert_same_batch(ours, theirs):
    assert set(ours) == set(theirs)
    for key in theirs:
        assert ours[key].dtype == theirs[key].dtype, key
        assert torch.equal(ours[key], theirs[key]), key


@pytest.mark.parametrize("multiple", [None, 8])
@pytest.mark.parametrize("kind", list(LABELS))
def test_same_tensors_as_data_collator_with_padding(tokenizer, kind, multiple):
    features = random_features(random.Random(0), 12, LABELS[kind])
    theirs = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=multiple)([dict(f) for f in features])
    assert_same_batch(PaddingCollator.for_tokenizer(tokenizer, multiple)(features), theirs)


@pytest.mark.parametrize("multiple", [None, 8])
def test_same_tensors_as_the_token_classification_collator(tokenizer, multiple):
    def tags(rng, feature):
        return {"labels": [-100] + [rng.choice([-100, 0, 1, 2]) for _ in feature["input_ids"][2:]] + [-100]}

    features = random_features(random.Random(1), 12, tags)
    theirs = DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=multiple)([dict(f) for f in features])
    assert_same_batch(PaddingCollator.for_tokenizer(tokenizer, multiple, token_labels=True)(features), theirs)


def test_same_tensors_as_padding_every_option_then_reshaping(tokenizer):
    """The original's multiple-choice collator: flatten the options, pad them together, reshape."""
    features = random_features(random.Random(2), 6, LABELS["class"], options=4)
    flat = [
        {key: value[option] for key, value in feature.items() if key != "labels"}
        for feature in features
        for option in range(4)
    ]
    padded = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)(flat)
    theirs = {key: tensor.view(6, 4, -1) for key, tensor in padded.items()}
    theirs["labels"] = torch.tensor([feature["labels"] for feature in features])
    assert_same_batch(PaddingCollator.for_tokenizer(tokenizer, 8)(features), theirs)


@pytest.mark.parametrize("kind", ["class", "regression", "multi-label"])
def test_features_already_padded_to_max_length_pass_through_as_default_data_collator_makes_them(kind):
    features = random_features(random.Random(3), 8, LABELS[kind], lengths=(16, 16))
    assert_same_batch(PaddingCollator(pad_token_id=0)(features), default_data_collator([dict(f) for f in features]))
