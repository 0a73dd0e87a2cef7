"""Sliding-window QA features on a WordPiece tokenizer built in the test: window count, overlap,
offsets, and start/end labels checked by decoding the labelled tokens back to text."""

from __future__ import annotations

import math

import numpy as np
import pytest

from linkbert.cli import flags
from linkbert.finetune.tasks.qa.features import answer_token_span, prepare_eval_features, prepare_train_features
from linkbert.tools.tiny_bert import build_tiny_bert

WORDS = "river stone maple quiet harbor lantern copper meadow violet thunder silver orchard".split()
# 120 words, so several 48-token windows; the numbers make every word position distinguishable.
CONTEXT = " ".join(f"{WORDS[i % len(WORDS)]} {i}" for i in range(60))
QUESTION = "Which copper lantern?"
MAX_LEN, STRIDE = 48, 12


@pytest.fixture(scope="module")
def tokenizer(tmp_path_factory):
    from transformers import AutoTokenizer

    model_dir = build_tiny_bert(tmp_path_factory.mktemp("tiny"), [CONTEXT, QUESTION] * 20, vocab_size=300)
    return AutoTokenizer.from_pretrained(model_dir)


def batch(answer_text: str | None, question: str = QUESTION, example_id: str = "q1") -> dict:
    if answer_text is None:
        answers = {"text": [], "answer_start": []}
    else:
        answers = {"text": [answer_text], "answer_start": [CONTEXT.index(answer_text)]}
    return {"id": [example_id], "question": [question], "context": [CONTEXT], "answers": [answers]}


def context_ids(tokenizer, features, window):
    """Context token ids of a window, found from the [SEP] layout, not from the code under test."""
    ids = features["input_ids"][window]
    first_sep = ids.index(tokenizer.sep_token_id)
    last_sep = len(ids) - 1 - ids[::-1].index(tokenizer.sep_token_id)
    return ids[first_sep + 1 : last_sep]


def squash(text: str) -> str:
    return "".join(text.lower().split())


def test_window_count_and_overlap_of_exactly_doc_stride_tokens(tokenizer):
    features = prepare_eval_features(batch(None), tokenizer, MAX_LEN, STRIDE)
    n_context = len(tokenizer(CONTEXT, add_special_tokens=False)["input_ids"])
    n_question = len(tokenizer(QUESTION, add_special_tokens=False)["input_ids"])
    room = MAX_LEN - n_question - 3  # [CLS] q [SEP] c [SEP]
    # The first window takes `room` context tokens, each later one advances by room - STRIDE.
    expected = 1 + math.ceil((n_context - room) / (room - STRIDE))
    assert expected >= 3
    assert len(features["input_ids"]) == expected
    assert all(len(ids) <= MAX_LEN for ids in features["input_ids"])

    windows = [context_ids(tokenizer, features, w) for w in range(expected)]
    for left, right in zip(windows, windows[1:], strict=False):
        assert left[-STRIDE:] == right[:STRIDE]
    # Dropping the shared tokens reassembles the whole context exactly once.
    stitched = windows[0] + [token for window in windows[1:] for token in window[STRIDE:]]
    assert stitched == tokenizer(CONTEXT, add_special_tokens=False)["input_ids"]


def test_eval_offsets_point_at_the_context_text_and_sentinel_elsewhere(tokenizer):
    features = prepare_eval_features(batch(None), tokenizer, MAX_LEN, STRIDE)
    assert set(features) >= {"input_ids", "attention_mask", "token_type_ids", "example_id", "offset_mapping"}
    assert features["example_id"] == ["q1"] * len(features["input_ids"])
    for ids, offsets in zip(features["input_ids"], features["offset_mapping"], strict=True):
        tokens = tokenizer.convert_ids_to_tokens(ids)
        first_sep = tokens.index("[SEP]")
        for position, (token, (start, end)) in enumerate(zip(tokens, offsets, strict=True)):
            if first_sep < position < len(tokens) - 1:
                assert CONTEXT[start:end].lower() == token.removeprefix("##")
            else:
                assert (start, end) == (-1, -1)


@pytest.mark.parametrize("answer", ["maple 38", "thunder 9", "orchard 59", "violet 32"])
def test_train_labels_decode_to_the_answer_or_point_at_cls(tokenizer, answer):
    features = prepare_train_features(batch(answer), tokenizer, MAX_LEN, STRIDE)
    assert "offset_mapping" not in features
    start_char = CONTEXT.index(answer)
    eval_features = prepare_eval_features(batch(answer), tokenizer, MAX_LEN, STRIDE)
    found = 0
    for window, ids in enumerate(features["input_ids"]):
        start, end = features["start_positions"][window], features["end_positions"][window]
        spans = [pair for pair in eval_features["offset_mapping"][window] if pair != [-1, -1]]
        covers = spans[0][0] <= start_char and spans[-1][1] >= start_char + len(answer)
        if covers:
            found += 1
            assert squash(tokenizer.decode(ids[start : end + 1])) == squash(answer)
        else:
            assert (start, end) == (0, 0) and ids[0] == tokenizer.cls_token_id
    assert found >= 1


def test_answer_cut_by_a_window_edge_gets_cls(tokenizer):
    features = prepare_eval_features(batch(None), tokenizer, MAX_LEN, STRIDE)
    # Pick the answer as the two words straddling the end of window 0's context.
    last = [pair for pair in features["offset_mapping"][0] if pair != [-1, -1]][-1]
    answer_start = CONTEXT.rindex(" ", 0, last[0] - 1) + 1
    answer_end = CONTEXT.index(" ", last[1] + 1)
    answer = CONTEXT[answer_start:answer_end]
    example = {
        "id": ["q1"],
        "question": [QUESTION],
        "context": [CONTEXT],
        "answers": [{"text": [answer], "answer_start": [answer_start]}],
    }
    train = prepare_train_features(example, tokenizer, MAX_LEN, STRIDE)
    assert (train["start_positions"][0], train["end_positions"][0]) == (0, 0)
    # The next window starts STRIDE tokens earlier, so it holds the whole answer.
    start, end = train["start_positions"][1], train["end_positions"][1]
    assert squash(tokenizer.decode(train["input_ids"][1][start : end + 1])) == squash(answer)


def test_no_answer_gives_cls_everywhere(tokenizer):
    features = prepare_train_features(batch(None), tokenizer, MAX_LEN, STRIDE)
    assert features["start_positions"] == features["end_positions"] == [0] * len(features["input_ids"])


def test_only_the_first_gold_answer_is_used(tokenizer):
    answers = {"text": ["river 0", "silver 10"], "answer_start": [0, CONTEXT.index("silver 10")]}
    example = {"id": ["q1"], "question": [QUESTION], "context": [CONTEXT], "answers": [answers]}
    features = prepare_train_features(example, tokenizer, MAX_LEN, STRIDE)
    start, end = features["start_positions"][0], features["end_positions"][0]
    assert squash(tokenizer.decode(features["input_ids"][0][start : end + 1])) == "river0"


def test_leading_spaces_padding_and_token_type_flag(tokenizer):
    plain = prepare_train_features(batch("maple 38"), tokenizer, MAX_LEN, STRIDE)
    spaced = prepare_train_features(batch("maple 38", question="     " + QUESTION), tokenizer, MAX_LEN, STRIDE)
    assert spaced == plain
    padded = prepare_train_features(
        batch("maple 38"), tokenizer, MAX_LEN, STRIDE, pad_to_max_length=True, do_not_use_token_type_ids=True
    )
    assert "token_type_ids" not in padded
    assert {len(ids) for ids in padded["input_ids"]} == {MAX_LEN}
    assert padded["start_positions"] == plain["start_positions"]


def test_answer_boundary_inside_a_word_piece_selects_that_piece():
    # Tokens: [CLS] q [SEP] "abc" "##def" "gh" [SEP]; the context is "abcdef gh".
    offsets = np.array([[0, 0], [0, 1], [0, 0], [0, 3], [3, 6], [7, 9], [0, 0]])
    is_context = np.array([False, False, False, True, True, True, False])
    assert answer_token_span(offsets, is_context, 4, 8, cls_index=0) == (4, 5)  # "ef g"
    assert answer_token_span(offsets, is_context, 0, 3, cls_index=0) == (3, 3)
    assert answer_token_span(offsets, is_context, 7, 10, cls_index=0) == (0, 0)  # runs past the window


def test_features_survive_datasets_map(tokenizer):
    import datasets

    dataset = datasets.Dataset.from_dict(
        {key: value * 2 for key, value in batch("maple 38").items()} | {"id": ["a", "b"]}
    )
    mapped = dataset.map(
        prepare_eval_features,
        batched=True,
        remove_columns=dataset.column_names,
        fn_kwargs={"tokenizer": tokenizer, "max_seq_length": MAX_LEN, "doc_stride": STRIDE},
    )
    direct = prepare_eval_features(dataset[:], tokenizer, MAX_LEN, STRIDE)
    assert mapped["offset_mapping"][:] == direct["offset_mapping"]
    assert mapped["example_id"][:] == direct["example_id"]
    assert [-1, -1] in mapped[0]["offset_mapping"]


def test_windows_are_padded_to_max_seq_length_by_default_as_the_original_does(tokenizer):
    """The original's run_qa defaults to pad_to_max_length=True, and that is not only a speed
    choice: BertForQuestionAnswering's start/end softmax spans every position, padding included,
    so the same window trained at another padded length has another loss."""
    import torch
    from transformers import BertConfig, BertForQuestionAnswering

    from linkbert.finetune.args import parse_args
    from linkbert.finetune.tasks.qa import ExtractiveQA, QADataArguments

    argv = flags(model_name_or_path="m", output_dir="o", max_seq_length=MAX_LEN, doc_stride=STRIDE)
    _, data_args, _ = parse_args(QADataArguments, argv)
    assert data_args.pad_to_max_length is True
    # the task's windows, train and eval alike, all MAX_LEN long
    for split in ("train", "validation"):
        assert {
            len(ids) for ids in ExtractiveQA(data_args).featurize(batch("maple 38"), tokenizer, split)["input_ids"]
        } == {MAX_LEN}
    _, data_args, _ = parse_args(QADataArguments, [*argv, "--no_pad_to_max_length"])
    assert data_args.pad_to_max_length is False
    assert (
        min(len(ids) for ids in ExtractiveQA(data_args).featurize(batch("maple 38"), tokenizer, "train")["input_ids"])
        < MAX_LEN
    )

    torch.manual_seed(0)
    model = BertForQuestionAnswering(
        BertConfig(
            vocab_size=50,
            hidden_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=32,
            num_labels=2,
        )
    ).eval()
    window = torch.tensor([[2, 7, 8, 3, 9, 10, 11, 3]])
    losses = []
    for pad in (0, 8):
        input_ids = torch.cat([window, torch.zeros(1, pad, dtype=torch.long)], dim=1)
        mask = (input_ids != 0).long()
        losses.append(
            model(
                input_ids=input_ids,
                attention_mask=mask,
                start_positions=torch.tensor([5]),
                end_positions=torch.tensor([6]),
            ).loss.item()
        )
    # 8 more positions in each softmax: padding changes the loss, it is not float noise
    assert abs(losses[1] - losses[0]) > 1e-3
