"""The translation layer: the paper's transformers-4.9 command lines parse on transformers 5."""

import pytest

from linkbert.cli import flags
from linkbert.errors import UsageError
from linkbert.finetune.args import parse_args, translate_legacy_flags
from linkbert.finetune.tasks.seqcls import SeqClsDataArguments

WD = flags(weight_decay="0.01", adam_beta1="0.9", adam_beta2="0.98", adam_epsilon="1e-6")
# The original BLURB sequence-classification jobs (its recipe files): task, metric flag, max length,
# then per model: batch, accumulation, lr, warmup (steps "100", ratio "r.5", or None), epochs, extras.
BLURB_SEQCLS = {
    "pubmedqa_hf": ([], 512, (16, 1, "2e-5", "100", 30, []), (8, 4, "3e-5", "r.5", 23, [])),
    "bioasq_hf": ([], 512, (16, 1, "2e-5", "100", 20, []), (8, 4, "3e-5", "r.5", 30, [])),
    "BIOSSES_hf": (
        ["--metric_name", "pearsonr"],
        512,
        (16, 1, "1e-5", None, 30, ["--seed", "5"]),
        (8, 4, "3e-5", "r.5", 100, WD),
    ),
    "HoC_hf": (["--metric_name", "hoc"], 512, (32, 1, "4e-5", None, 40, []), (8, 4, "3e-5", "r.5", 20, [])),
    "chemprot_hf": (["--metric_name", "PRF1"], 256, (32, 1, "3e-5", None, 10, []), (16, 1, "2e-5", "r.5", 4, [])),
    "DDI_hf": (["--metric_name", "PRF1"], 256, (32, 1, "2e-5", None, 5, []), (16, 1, "2e-5", "r.5", 3, [])),
    "GAD_hf": (["--metric_name", "PRF1"], 256, (32, 1, "3e-5", None, 10, []), (16, 1, "2e-5", "r.5", 5, [])),
}


def blurb_command(task, model, settings, metric, length):
    batch, accum, lr, warmup, epochs, extra = settings
    warmup_flags = (
        []
        if warmup is None
        else (["--warmup_ratio", warmup[1:]] if warmup.startswith("r") else ["--warmup_steps", warmup])
    )
    data = f"../data/seqcls/{task}"
    return [
        "--model_name_or_path",
        f"michiyasunaga/{model}",
        "--train_file",
        f"{data}/train.json",
        "--validation_file",
        f"{data}/dev.json",
        "--test_file",
        f"{data}/test.json",
        "--do_train",
        "--do_eval",
        "--do_predict",
        *metric,
        "--per_device_train_batch_size",
        str(batch),
        "--gradient_accumulation_steps",
        str(accum),
        "--fp16",
        "--learning_rate",
        lr,
        *warmup_flags,
        "--num_train_epochs",
        str(epochs),
        "--max_seq_length",
        str(length),
        "--save_strategy",
        "no",
        "--evaluation_strategy",
        "no",
        "--output_dir",
        f"runs/{task}/{model}",
        "--overwrite_output_dir",
        *extra,
    ]


CASES = [
    (task, model, settings, metric, length)
    for task, (metric, length, base, large) in BLURB_SEQCLS.items()
    for model, settings in (("BioLinkBERT-base", base), ("BioLinkBERT-large", large))
]


@pytest.mark.parametrize("task,model,settings,metric,length", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_every_blurb_seqcls_command_line_parses(task, model, settings, metric, length):
    argv = blurb_command(task, model, settings, metric, length)
    model_args, data_args, training_args = parse_args(SeqClsDataArguments, argv)
    batch, accum, lr, warmup, epochs, extra = settings
    assert model_args.model_name_or_path == f"michiyasunaga/{model}"
    assert data_args.max_seq_length == length
    assert data_args.metric_name == (metric[1] if metric else None)
    assert training_args.per_device_train_batch_size == batch and training_args.gradient_accumulation_steps == accum
    assert training_args.learning_rate == float(lr) and training_args.num_train_epochs == epochs
    assert training_args.eval_strategy == "no" and training_args.save_strategy == "no"
    assert training_args.fp16 and not training_args.bf16
    assert training_args.overwrite_output_dir is True
    expected_warmup = 0 if warmup is None else (float(warmup[1:]) if warmup.startswith("r") else int(warmup))
    assert training_args.warmup_steps == expected_warmup
    assert training_args.seed == (5 if "--seed" in extra else 42)
    assert training_args.weight_decay == (0.01 if extra == WD else 0.0)
    assert training_args.adam_beta2 == (0.98 if extra == WD else 0.999)


def test_renamed_flags_are_translated():
    argv = flags(
        evaluation_strategy="steps", warmup_ratio="0.1", group_by_length=True, sharded_ddp="zero_dp_3", fp16=True
    )
    assert translate_legacy_flags(argv) == flags(
        eval_strategy="steps",
        warmup_steps="0.1",
        train_sampling_strategy="group_by_length",
        fsdp=True,
        fsdp_config='{"reshard_after_forward": true, "transformer_layer_cls_to_wrap": ["BertLayer"]}',
        fp16=True,
    )


def test_equals_form_and_dropped_flags():
    assert translate_legacy_flags(["--evaluation_strategy=epoch", "--use_auth_token", "--do_train"]) == [
        "--eval_strategy",
        "epoch",
        "--do_train",
    ]
    assert translate_legacy_flags(["--use_auth_token", "false", "--seed", "3"]) == ["--seed", "3"]


def test_warmup_ratio_must_be_a_fraction():
    with pytest.raises(UsageError, match="warmup_ratio"):
        translate_legacy_flags(["--warmup_ratio", "1.5"])


def test_hub_datasets_and_non_json_files_are_refused():
    base = ["--model_name_or_path", "m", "--output_dir", "o"]
    with pytest.raises(UsageError, match="dataset_name"):
        parse_args(SeqClsDataArguments, base + ["--dataset_name", "glue"])
    with pytest.raises(UsageError, match="JSON-lines"):
        parse_args(SeqClsDataArguments, base + ["--train_file", "train.csv"])


@pytest.mark.parametrize(
    "typo", [["--num_train_epoch", "1"], ["--learning_rat", "1e-5"], ["--per_device_train_batch", "4"]]
)
def test_abbreviated_flags_are_refused_by_name(typo):
    base = ["--model_name_or_path", "m", "--output_dir", "o"]
    with pytest.raises(UsageError, match="not used") as caught:
        parse_args(SeqClsDataArguments, base + typo)
    assert typo[0] in str(caught.value)


def test_output_dir_is_required():
    with pytest.raises(UsageError, match="--output_dir is required"):
        parse_args(SeqClsDataArguments, ["--model_name_or_path", "m", "--do_train"])


def test_pretraining_refuses_abbreviations_too():
    from linkbert.pretrain.args import parse_args as parse_pretrain_args

    base = flags(train_dir="d", output_dir="o", model_name_or_path="m")
    assert parse_pretrain_args(base + ["--max_steps", "5"]).max_steps == 5
    with pytest.raises(UsageError, match="--max_step"):
        parse_pretrain_args(base + ["--max_step", "5"])
