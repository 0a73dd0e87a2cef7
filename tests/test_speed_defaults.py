"""The entry scripts' speed defaults: which runs are padding-free without being asked (sequence
classification, NER, multiple choice), which stay padded (QA, and any run asking for the original's
padding or attention), that the original padded encoder is one flag away, and that a default run
gives the same results as a run with that flag."""

import json

import pytest
from helpers import (
    VOCAB_TEXT,
    assert_same_predictions,
    make_mc_splits,
    make_ner_splits,
    make_seqcls_splits,
    mc_run,
    ner_run,
    pair_example,
    read_jsonl,
    seqcls_run,
)

import linkbert.finetune.padding_free as padding_free_module
from linkbert.finetune.args import DataArguments, parse_args
from linkbert.finetune.tasks.qa.task import QADataArguments
from linkbert.finetune.tasks.seqcls import SeqClsDataArguments
from linkbert.finetune.tasks.tokcls import TokClsDataArguments
from linkbert.tools.tiny_bert import build_tiny_bert

REQUIRED = ["--model_name_or_path", "m", "--output_dir", "out", "--train_file", "train.json"]
PER_BATCH_TASKS = [SeqClsDataArguments, TokClsDataArguments, DataArguments]  # MultipleChoice uses the base class


def model_args(data_args_class, *extra):
    return parse_args(data_args_class, [*REQUIRED, *extra])[0]


@pytest.mark.parametrize("data_args_class", PER_BATCH_TASKS, ids=["seqcls", "ner", "mc"])
def test_tasks_padded_per_batch_are_padding_free_by_default(data_args_class):
    args = model_args(data_args_class)
    assert args.padding_free is True and args.padding_free_by_default is True


def test_qa_pads_its_windows_by_default_and_packs_only_when_asked():
    assert model_args(QADataArguments).padding_free is False
    assert model_args(QADataArguments, "--no_pad_to_max_length").padding_free is False
    asked = model_args(QADataArguments, "--padding_free")
    assert asked.padding_free is True and asked.padding_free_by_default is False


@pytest.mark.parametrize(
    "extra",
    [
        ["--no_padding_free"],
        ["--padding_free", "false"],
        ["--padding_free=false"],
        ["--padding_free", "0"],
        ["--pad_to_max_length"],
        ["--attn_implementation", "eager"],
    ],
    ids=["no-flag", "false", "equals-false", "zero", "pad-to-max", "eager"],
)
def test_the_original_padded_encoder_is_one_flag_away(extra):
    assert model_args(SeqClsDataArguments, *extra).padding_free is False


@pytest.mark.parametrize(
    "extra", [["--padding_free"], ["--padding_free", "true"], ["--padding_free", "--seed", "7"]], ids=str
)
def test_an_explicit_padding_free_is_kept_as_asked(extra):
    args, _, training_args = parse_args(SeqClsDataArguments, [*REQUIRED, *extra])
    assert args.padding_free is True and args.padding_free_by_default is False
    assert training_args.seed == (7 if "--seed" in extra else 42)


def test_a_bucket_alone_means_padding_free_where_that_is_the_default():
    assert model_args(SeqClsDataArguments, "--padding_free_bucket", "64").padding_free is True


# End to end: the default run against the original flag's run, on a tiny model without dropout (so the
# padded and packed forwards differ by float noise only) and plain SGD (which does not magnify that noise).


@pytest.fixture(scope="module")
def no_dropout_model(tmp_path_factory):
    return build_tiny_bert(
        tmp_path_factory.mktemp("nodrop") / "tiny", VOCAB_TEXT * 20, vocab_size=200, dropout=0.0, seed=0
    )


@pytest.fixture
def packing_calls(monkeypatch):
    """How many runs switched their model to the padding-free encoder."""
    calls = []
    original = padding_free_module.make_padding_free

    def counted(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(padding_free_module, "make_padding_free", counted)
    return calls


SGD = ("--optim", "sgd", "--learning_rate", "5e-2")


def seqcls_job(model, tmp_path):
    paths = make_seqcls_splits(tmp_path, pair_example, sizes=(48, 24, 24))
    return lambda out, extra: seqcls_run(model, paths, out, "--metric_name", "accuracy", *SGD, *extra, epochs=3)


def ner_job(model, tmp_path):
    paths = make_ner_splits(tmp_path)
    return lambda out, extra: ner_run(model, paths, out, *SGD, "--num_train_epochs", "2", *extra)


def mc_job(model, tmp_path):
    paths = make_mc_splits(tmp_path)
    return lambda out, extra: mc_run(model, paths, out, *SGD, "--num_train_epochs", "2", *extra)


def scores(out, prefix):
    results = json.loads((out / f"{prefix}_results.json").read_text())
    return {key: value for key, value in results.items() if not key.endswith(("runtime", "per_second"))}


@pytest.mark.parametrize("job", [seqcls_job, ner_job, mc_job], ids=["seqcls", "ner", "mc"])
def test_the_default_run_packs_and_matches_the_original_flag(no_dropout_model, tmp_path, packing_calls, job):
    run = job(no_dropout_model, tmp_path)
    assert run(tmp_path / "default", []) == 0
    assert len(packing_calls) == 1  # the default run was padding-free ...
    assert run(tmp_path / "original", ["--no_padding_free"]) == 0
    assert len(packing_calls) == 1  # ... and the flag's run was not
    default, original = tmp_path / "default", tmp_path / "original"
    assert_same_predictions(
        read_jsonl(default / "predict_predictions.jsonl"), read_jsonl(original / "predict_predictions.jsonl"), rel=1e-4
    )
    for prefix in ("eval", "predict"):
        ours, theirs = scores(default, prefix), scores(original, prefix)
        assert len(theirs) >= 3 and set(ours) == set(theirs)
        for key, value in theirs.items():
            assert ours[key] == pytest.approx(value, rel=1e-4, abs=1e-6), (prefix, key)
