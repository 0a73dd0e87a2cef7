"""--padding_free: the encoder run on real tokens only must compute what the padded model computes."""

import copy
import json

import pytest
import torch
from helpers import (
    VOCAB_TEXT,
    assert_one_line_error,
    assert_same_predictions,
    full_run_argv,
    make_mc_splits,
    make_ner_splits,
    make_qa_splits,
    make_seqcls_splits,
    mc_run,
    ner_run,
    pair_example,
    qa_args,
    read_jsonl,
    relation_example,
    run_qa,
    run_seqcls,
    seqcls_run,
)
from transformers import (
    BertConfig,
    BertForMultipleChoice,
    BertForQuestionAnswering,
    BertForSequenceClassification,
    BertForTokenClassification,
)

from linkbert.errors import UsageError
from linkbert.finetune.args import resolve_attention
from linkbert.finetune.padding_free import (
    PaddingFreeCollator,
    enable_padding_free,
    repadded_attention,
    unpad_metadata,
    varlen_attention,
)
from linkbert.tools.tiny_bert import build_tiny_bert

LENGTHS = [7, 3, 9, 1, 12, 5]  # real tokens per input; padded length 12
PAD_LENGTH = 12


def config(**overrides):
    values = dict(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
    )
    values.update(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0, attn_implementation="sdpa")
    values.update(overrides)
    return BertConfig(**values)


def padded_batch(lengths=LENGTHS, seed=0):
    """input_ids / attention_mask / token_type_ids [B, PAD_LENGTH], right-padded as BERT tokenizers pad."""
    generator = torch.Generator().manual_seed(seed)
    mask = (torch.arange(PAD_LENGTH)[None, :] < torch.tensor(lengths)[:, None]).long()
    input_ids = torch.randint(5, 100, (len(lengths), PAD_LENGTH), generator=generator) * mask
    token_type_ids = (torch.arange(PAD_LENGTH)[None, :] >= 4).long() * mask  # a second segment from position 4
    return {"input_ids": input_ids, "attention_mask": mask, "token_type_ids": token_type_ids}


def test_unpad_metadata_by_hand():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])
    gather, scatter, cu_seqlens = unpad_metadata(mask)
    assert gather.tolist() == scatter.tolist() == [0, 1, 2, 4, 8, 9, 10, 11]
    assert cu_seqlens.tolist() == [0, 3, 4, 8]
    assert cu_seqlens.dtype == torch.int32


def test_bucketing_adds_one_filler_input_that_scatters_past_the_batch():
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])  # 8 real tokens, 12 positions
    gather, scatter, cu_seqlens = unpad_metadata(mask, bucket=5)
    # 8 real + at least one filler, rounded up to 10
    assert gather.tolist() == [0, 1, 2, 4, 8, 9, 10, 11, 0, 0]
    assert scatter.tolist() == [0, 1, 2, 4, 8, 9, 10, 11, 12, 12]
    assert cu_seqlens.tolist() == [0, 3, 4, 8, 10]
    gather, scatter, cu_seqlens = unpad_metadata(mask, bucket=4)  # 8 real tokens: one more bucket
    assert len(gather) == 12 and cu_seqlens.tolist() == [0, 3, 4, 8, 12]


def test_multiple_choice_masks_are_flattened_as_the_head_flattens_its_options():
    mask = torch.tensor([[[1, 1, 0], [1, 0, 0]], [[1, 1, 1], [1, 1, 0]]])  # [batch 2, options 2, length 3]
    gather, _, cu_seqlens = unpad_metadata(mask)
    assert gather.tolist() == [0, 1, 3, 6, 7, 8, 9, 10]
    assert cu_seqlens.tolist() == [0, 2, 3, 6, 8]


def test_collator_adds_the_metadata_of_each_batch():
    inner = lambda features: {"attention_mask": torch.tensor(features), "labels": torch.tensor([0, 1])}  # noqa: E731
    batch = PaddingFreeCollator(inner)([[1, 1, 0], [1, 0, 0]])
    assert batch["unpad_indices"].tolist() == batch["repad_indices"].tolist() == [0, 1, 3]
    assert batch["cu_seqlens"].tolist() == [0, 2, 3]
    assert batch["labels"].tolist() == [0, 1]


def test_varlen_collator_hands_over_the_exact_length_bounds_filler_included():
    """Inputs of 3, 1 and 4 real tokens: 8 rows; bucket 5 rounds up to 10 (at least one filler row),
    so the filler input has 2 rows; bucket 64 makes it 56 rows, longer than any real input."""
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])
    inner = lambda features: {"attention_mask": mask}  # noqa: E731
    assert PaddingFreeCollator(inner, seqlen_bounds=True)(None)["packed_seqlen_range"] == (1, 4)
    assert PaddingFreeCollator(inner, 5, seqlen_bounds=True)(None)["packed_seqlen_range"] == (1, 4)
    assert PaddingFreeCollator(inner, 64, seqlen_bounds=True)(None)["packed_seqlen_range"] == (1, 56)
    wide = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0]])
    assert PaddingFreeCollator(lambda f: {"attention_mask": wide}, seqlen_bounds=True)(None)["packed_seqlen_range"] == (
        2,
        3,
    )
    # without bounds (repad, compiled graphs) the batch carries no Python numbers to specialize on
    assert "packed_seqlen_range" not in PaddingFreeCollator(inner, 5)(None)


def test_varlen_with_collator_bounds_never_reads_them_from_the_device(monkeypatch):
    import linkbert.finetune.padding_free as padding_free

    torch.manual_seed(0)
    model = BertForSequenceClassification(config(num_labels=3)).eval()
    enable_padding_free(model, "varlen")
    batch = padded_batch()
    reference = model(**batch).logits  # no metadata: bounds read back from cu_seqlens
    with_metadata = PaddingFreeCollator(lambda features: dict(batch), seqlen_bounds=True)(None)

    def no_device_reads(cu_seqlens):
        raise AssertionError("seqlen bounds read from the device although the collator gave them")

    monkeypatch.setattr(padding_free, "seqlen_range", no_device_reads)
    torch.testing.assert_close(model(**with_metadata).logits, reference)


@pytest.mark.parametrize(
    ("requested", "device", "compiled", "expected"),
    [
        ("auto", "cuda", False, "varlen"),
        ("auto", "cuda", True, "repad"),
        ("auto", "cpu", False, "repad"),
        ("auto", "cpu", True, "repad"),
        ("repad", "cuda", False, "repad"),
        ("varlen", "cuda", False, "varlen"),
        ("varlen", "cpu", False, "varlen"),
    ],
)
def test_the_attention_kernel_is_decided_in_one_place(requested, device, compiled, expected):
    assert resolve_attention(requested, device, compiled) == expected


def test_varlen_under_torch_compile_is_refused_before_anything_runs():
    with pytest.raises(UsageError, match="varlen cannot run under --torch_compile"):
        resolve_attention("varlen", "cuda", compiled=True)
    model = BertForSequenceClassification(config(num_labels=3))
    with pytest.raises(UsageError, match="varlen cannot run under --torch_compile"):
        enable_padding_free(model, "varlen", compiled=True)


def test_varlen_attention_is_softmax_attention_within_each_input():
    """Compared with attention written out by hand, in float64, one input at a time."""
    torch.manual_seed(0)
    lengths, heads, dim = [4, 1, 6], 2, 8
    total = sum(lengths)
    query, key, value = (torch.randn(total, heads, dim, dtype=torch.float64) for _ in range(3))
    cu_seqlens = torch.tensor([0, 4, 5, 11], dtype=torch.int32)
    output = varlen_attention(query, key, value, cu_seqlens, (min(lengths), max(lengths)), dropout=0.0, scale=0.3)
    start = 0
    for length in lengths:
        rows = slice(start, start + length)
        for head in range(heads):
            q, k, v = query[rows, head], key[rows, head], value[rows, head]
            weights = torch.exp(0.3 * q @ k.T)
            expected = (weights / weights.sum(dim=1, keepdim=True)) @ v
            torch.testing.assert_close(output[rows, head], expected)
        start += length


def test_an_input_does_not_see_its_neighbours():
    torch.manual_seed(0)
    query, key, value = (torch.randn(10, 2, 4) for _ in range(3))
    cu_seqlens = torch.tensor([0, 6, 10], dtype=torch.int32)
    before = varlen_attention(query, key, value, cu_seqlens, (4, 6), dropout=0.0, scale=0.5)
    key2, value2 = key.clone(), value.clone()
    key2[6:], value2[6:] = torch.randn(4, 2, 4), torch.randn(4, 2, 4)
    after = varlen_attention(query, key2, value2, cu_seqlens, (4, 6), dropout=0.0, scale=0.5)
    torch.testing.assert_close(after[:6], before[:6])
    assert not torch.allclose(after[6:], before[6:])


def head_case(name):
    """(model, forward inputs, output key, per-token output?) for one HuggingFace head."""
    batch = padded_batch()
    generator = torch.Generator().manual_seed(1)
    if name == "seqcls":
        return (
            BertForSequenceClassification(config(num_labels=3)),
            dict(batch, labels=torch.tensor([0, 2, 1, 0, 1, 2])),
            "logits",
            False,
        )
    if name == "qa":  # no positions: the model's loss spans padding too (see test_qa_loss_...)
        return BertForQuestionAnswering(config(num_labels=2)), batch, "start_logits", True
    if name == "tokcls":
        labels = torch.randint(0, 5, (len(LENGTHS), PAD_LENGTH), generator=generator).masked_fill(
            batch["attention_mask"] == 0, -100
        )
        return BertForTokenClassification(config(num_labels=5)), dict(batch, labels=labels), "logits", True
    options = {key: value.view(3, 2, PAD_LENGTH) for key, value in batch.items()}  # 3 questions x 2 options
    return BertForMultipleChoice(config()), dict(options, labels=torch.tensor([1, 0, 1])), "logits", False


@pytest.mark.parametrize("attention", ["varlen", "repad"])
@pytest.mark.parametrize("name", ["seqcls", "qa", "tokcls", "mc"])
def test_outputs_losses_and_gradients_equal_the_padded_model(name, attention):
    torch.manual_seed(0)
    dense, inputs, key, per_token = head_case(name)
    fast = copy.deepcopy(dense)
    enable_padding_free(fast, attention)
    dense_out, fast_out = dense(**inputs), fast(**inputs)
    real = inputs["attention_mask"].bool()
    a, b = (out[key][real] if per_token else out[key] for out in (dense_out, fast_out))
    torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-5)
    if name == "qa":
        dense_loss, fast_loss = (
            out.start_logits[real].logsumexp(0) + out.end_logits[real].square().sum() for out in (dense_out, fast_out)
        )
    else:
        dense_loss, fast_loss = dense_out.loss, fast_out.loss
    torch.testing.assert_close(fast_loss, dense_loss, atol=1e-5, rtol=1e-6)
    dense_loss.backward()
    fast_loss.backward()
    dense_grads = dict(dense.named_parameters())
    compared = 0
    for param_name, param in fast.named_parameters():
        if dense_grads[param_name].grad is None:
            assert param.grad is None or not param.grad.any(), param_name
            continue
        torch.testing.assert_close(param.grad, dense_grads[param_name].grad, atol=1e-5, rtol=1e-4, msg=param_name)
        compared += 1
    assert compared > 20
    assert list(fast.state_dict()) == list(dense.state_dict())


@pytest.mark.parametrize("attention", ["varlen", "repad"])
@pytest.mark.parametrize("bucket", [None, 16, 64])
def test_metadata_from_the_collator_bucketed_or_not_gives_the_same_outputs_and_gradients(bucket, attention):
    """Bucket 64 makes a filler input longer than the padded length (12)."""
    torch.manual_seed(0)
    model = BertForTokenClassification(config(num_labels=3))
    enable_padding_free(model, attention)
    batch = padded_batch()
    reference = model(**batch).logits
    reference.sum().backward()
    expected_grads = {name: param.grad.clone() for name, param in model.named_parameters()}
    model.zero_grad()
    with_metadata = PaddingFreeCollator(lambda features: dict(batch), bucket, seqlen_bounds=attention == "varlen")(None)
    if bucket:
        assert len(with_metadata["unpad_indices"]) % bucket == 0
    logits = model(**with_metadata).logits
    torch.testing.assert_close(logits, reference, atol=1e-6, rtol=1e-5)
    logits.sum().backward()
    for name, param in model.named_parameters():
        torch.testing.assert_close(param.grad, expected_grads[name], atol=1e-6, rtol=1e-5, msg=name)


@pytest.mark.parametrize("attention", ["varlen", "repad"])
def test_attention_dropout_acts_in_training_only(attention):
    torch.manual_seed(0)
    dense = BertForSequenceClassification(config(num_labels=3, attention_probs_dropout_prob=0.5)).eval()
    fast = copy.deepcopy(dense)
    enable_padding_free(fast, attention)
    batch = padded_batch()
    torch.testing.assert_close(fast(**batch).logits, dense(**batch).logits, atol=1e-5, rtol=1e-5)
    fast.train()
    first, second = fast(**batch).logits, fast(**batch).logits
    assert not torch.allclose(first, second)


def test_checkpoint_stays_a_plain_bert(tmp_path):
    torch.manual_seed(0)
    model = BertForSequenceClassification(config(num_labels=3)).eval()
    batch = padded_batch()
    expected = model(**batch).logits
    enable_padding_free(model)
    model.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert "linkbert" not in json.dumps(saved)
    reloaded = BertForSequenceClassification.from_pretrained(tmp_path).eval()
    torch.testing.assert_close(reloaded(**batch).logits, expected, atol=1e-5, rtol=1e-5)


def test_repadded_attention_equals_varlen_attention_with_a_filler_input():
    """The bucketed layout: 8 real tokens of inputs [3, 1, 4] in a [3, 4] batch plus a filler
    input of 2 rows that scatters to the spare row; real rows must match the varlen kernel."""
    from linkbert.finetune.padding_free import Packing

    torch.manual_seed(0)
    mask = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]])
    gather, scatter, cu_seqlens = unpad_metadata(mask, bucket=5)
    query, key, value = (torch.randn(len(gather), 2, 8) for _ in range(3))
    packing = Packing(gather, scatter, cu_seqlens, 3, 4, None, None, mask.bool()[:, None, None, :], "repad")
    repadded = repadded_attention(query, key, value, packing, dropout=0.0, scale=0.3)
    reference = varlen_attention(query, key, value, cu_seqlens, (1, 4), dropout=0.0, scale=0.3)
    torch.testing.assert_close(repadded[:8], reference[:8])
    assert torch.isfinite(repadded).all()


def test_a_model_that_is_not_bert_is_refused():
    from transformers import RobertaConfig, RobertaForSequenceClassification

    model = RobertaForSequenceClassification(
        RobertaConfig(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    )
    with pytest.raises(UsageError, match="BERT-architecture models, not model_type 'roberta'"):
        enable_padding_free(model)


def test_requests_packing_cannot_serve_fall_back_to_the_padded_forward():
    torch.manual_seed(0)
    dense = BertForSequenceClassification(config(num_labels=3)).eval()
    fast = copy.deepcopy(dense)
    enable_padding_free(fast)
    batch = padded_batch()
    hidden = fast(**batch, output_hidden_states=True).hidden_states
    assert len(hidden) == 3  # embeddings + 2 layers, as the padded model reports them
    torch.testing.assert_close(
        hidden[-1], dense(**batch, output_hidden_states=True).hidden_states[-1], atol=1e-5, rtol=1e-5
    )


# End to end: each entry point with and without --padding_free on a tiny model without dropout,
# so the two runs differ by float noise only.


@pytest.fixture(scope="module")
def no_dropout_model(tmp_path_factory):
    return build_tiny_bert(
        tmp_path_factory.mktemp("nodrop") / "tiny", VOCAB_TEXT * 20, vocab_size=200, dropout=0.0, seed=0
    )


def both_runs(run, tmp_path, padding_free_flags=("--padding_free",)):
    """`run(output_dir, extra_flags)` once padded and once padding-free; the two output dirs."""
    outputs = {}
    for name, extra in (("padded", ["--no_padding_free"]), ("padding_free", list(padding_free_flags))):
        outputs[name] = tmp_path / name
        assert run(outputs[name], extra) == 0
    return outputs["padded"], outputs["padding_free"]


def assert_same_metrics(padded, padding_free, prefix, rel):
    a = json.loads((padded / f"{prefix}_results.json").read_text())
    b = json.loads((padding_free / f"{prefix}_results.json").read_text())
    scores = [key for key in a if not key.endswith(("runtime", "per_second"))]
    assert len(scores) >= 3 and set(scores) <= set(b)
    for key in scores:
        assert b[key] == pytest.approx(a[key], rel=rel, abs=1e-6), key


@pytest.mark.slow
def test_sequence_classification_learns_and_predicts_the_same(no_dropout_model, tmp_path):
    """The learnable pair task with the recipes' optimizer (AdamW): the same predictions, the same
    accuracy (well above chance), losses equal up to the noise Adam magnifies."""
    paths = make_seqcls_splits(tmp_path, pair_example, sizes=(96, 32, 32))

    def run(out, extra):
        return seqcls_run(no_dropout_model, paths, out, "--metric_name", "accuracy", *extra, epochs=12, lr="3e-3")

    padded, padding_free = both_runs(run, tmp_path)
    assert_same_predictions(
        read_jsonl(padding_free / "predict_predictions.jsonl"),
        read_jsonl(padded / "predict_predictions.jsonl"),
        rel=1e-3,
    )
    assert json.loads((padding_free / "predict_results.json").read_text())["test_accuracy"] >= 0.85  # chance is 0.5
    assert_same_metrics(padded, padding_free, "predict", rel=1e-3)


# each: a runner of the entry point on the data and flags its own test module uses (helpers.py), at
# a learning rate for plain SGD (later flags override the module's own)
SGD = ("--optim", "sgd", "--learning_rate", "5e-2")


def qa_runner(model, tmp_path):
    paths = make_qa_splits(tmp_path, sizes=(32, 12, 12))
    return lambda out, extra: run_qa(qa_args(model, paths, out, *SGD, "--no_pad_to_max_length", *extra))


def ner_runner(model, tmp_path):
    paths = make_ner_splits(tmp_path)
    return lambda out, extra: ner_run(model, paths, out, *SGD, "--num_train_epochs", "2", *extra)


def mc_runner(model, tmp_path):
    paths = make_mc_splits(tmp_path)
    return lambda out, extra: mc_run(model, paths, out, *SGD, "--num_train_epochs", "2", *extra)


@pytest.mark.parametrize(
    "make,flags",
    [
        pytest.param(qa_runner, (), id="qa", marks=pytest.mark.slow),
        pytest.param(ner_runner, (), id="ner"),
        pytest.param(mc_runner, (), id="mc"),
        pytest.param(ner_runner, ("--padding_free_bucket", "64"), id="ner-bucketed"),
        pytest.param(ner_runner, ("--padding_free_attention", "varlen"), id="ner-varlen", marks=pytest.mark.slow),
    ],
)
def test_span_token_and_choice_runs_predict_the_same(no_dropout_model, tmp_path, make, flags):
    """Plain SGD keeps float noise at the 1e-6 level, so scores and predictions must agree. QA pads
    to the batch's longest window here: its loss still differs slightly where a window is padded
    (the softmax spans padding, which the padded run computes and the padding-free run leaves at
    the bias; see test_qa_features for why QA pads to max_seq_length by default), too little to
    move a metric or a prediction at this scale (but its answers' span scores, raw logits, move by
    up to ~10%, so those are left out)."""
    padded, padding_free = both_runs(make(no_dropout_model, tmp_path), tmp_path, ("--padding_free", *flags))
    ours, theirs = (read_jsonl(out / "predict_predictions.jsonl") for out in (padding_free, padded))
    if make is qa_runner:
        ours, theirs = ([{k: v for k, v in r.items() if k != "score"} for r in rows] for rows in (ours, theirs))
    assert_same_predictions(ours, theirs, rel=1e-4)
    assert_same_metrics(padded, padding_free, "predict", rel=1e-4)
    assert_same_metrics(padded, padding_free, "eval", rel=1e-4)


def test_padding_free_with_eager_attention_is_one_clear_error(tiny_model, tmp_path, capsys):
    paths = make_seqcls_splits(tmp_path, relation_example)
    out = tmp_path / "out"
    assert run_seqcls([*full_run_argv(tiny_model, paths, out), "--padding_free", "--attn_implementation", "eager"]) == 2
    assert_one_line_error(capsys, ["--padding_free", "--attn_implementation eager"], out)


@pytest.mark.parametrize(
    "flags,fragments",
    [
        (["--no_padding_free", "--padding_free_bucket", "64"], ["--padding_free_bucket 64", "needs --padding_free"]),
        (
            ["--padding_free", "--padding_free_attention", "flash"],
            ["--padding_free_attention flash", "auto, varlen, repad"],
        ),
        (
            ["--padding_free", "--padding_free_attention", "varlen", "--torch_compile"],
            ["varlen cannot run under --torch_compile", "auto or repad"],
        ),
    ],
    ids=["bucket-alone", "unknown-kernel", "varlen-compiled"],
)
def test_inconsistent_padding_free_flags_are_one_clear_error(tiny_model, tmp_path, capsys, flags, fragments):
    paths = make_seqcls_splits(tmp_path, relation_example)
    out = tmp_path / "out"
    assert run_seqcls([*full_run_argv(tiny_model, paths, out), *flags]) == 2
    assert_one_line_error(capsys, fragments, out)


def test_a_padding_free_step_reads_nothing_back_from_the_device():
    """On the meta device tensors have shapes but no values, so any host sync (.item(), nonzero,
    a tensor in an `if`) fails there. With the collator's metadata a whole training step (forward,
    loss, backward) runs on meta; without it the model must count the real tokens itself, and does.
    (Jagged tensors do not run on meta, so the varlen kernel's syncs are for a GPU to count, with
    torch.cuda.set_sync_debug_mode.)"""
    batch = dict(padded_batch(), labels=torch.tensor([0, 1, 2, 0, 1, 2]))
    model = BertForSequenceClassification(config(num_labels=3)).to("meta")
    enable_padding_free(model, "repad")
    with_metadata = PaddingFreeCollator(dict, 32)(batch)
    loss = model(**{key: value.to("meta") for key, value in with_metadata.items()}).loss
    loss.backward()
    assert loss.device.type == "meta" and next(model.parameters()).grad is not None
    with pytest.raises((NotImplementedError, RuntimeError), match="nonzero"):
        model(**{key: value.to("meta") for key, value in batch.items()})
