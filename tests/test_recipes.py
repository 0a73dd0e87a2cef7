"""Every recipe job, dry-run, parses with its entry script and carries the paper's hyperparameters
(the original release's recipe files, written out again here by hand)."""

import os
import subprocess
import sys

import pytest
from helpers import REPO, launched_commands, recipe_run, task_class_of

from linkbert.finetune.args import parse_args

MRQA = {
    "max_seq_length": 384,
    "doc_stride": 128,
    "preprocessing_num_workers": 10,
    "eval_strategy": "steps",
    "eval_steps": 1000,
}
WD = {"weight_decay": 0.01, "adam_beta2": 0.98, "adam_epsilon": 1e-6}
NO_EVAL = {"eval_strategy": "no"}
# recipe suffix -> {task: (data dir, batch, accumulation, lr, epochs, warmup, other expected values)}
EXPECTED = {
    "mrqa_linkbert-base": {
        "hotpot": ("qa/hotpot_hf", 12, 2, 3e-5, 4, 0, MRQA),
        "triviaqa": ("qa/triviaqa_hf", 12, 2, 3e-5, 4, 0, MRQA),
        "searchqa": ("qa/searchqa_hf", 12, 2, 3e-5, 1, 0, MRQA),
        "naturalqa": ("qa/naturalqa_hf", 12, 2, 3e-5, 4, 0, MRQA),
        "newsqa": ("qa/newsqa_hf", 12, 2, 3e-5, 4, 0, MRQA),
        "squad": ("qa/squad_hf", 12, 1, 3e-5, 2, 0, MRQA),
    },
    "mrqa_linkbert-large": {
        "hotpot": ("qa/hotpot_hf", 16, 1, 2e-5, 4, 0, MRQA),
        "triviaqa": ("qa/triviaqa_hf", 16, 1, 2e-5, 4, 0, MRQA),
        "searchqa": ("qa/searchqa_hf", 16, 1, 2e-5, 2, 0, MRQA),
        "naturalqa": ("qa/naturalqa_hf", 16, 1, 2e-5, 4, 0, MRQA),
        "newsqa": ("qa/newsqa_hf", 16, 1, 2e-5, 2, 0, MRQA),
        "squad": ("qa/squad_hf", 16, 1, 2e-5, 2, 0, MRQA),
    },
    "blurb_biolinkbert-base": {
        "pubmedqa": ("seqcls/pubmedqa_hf", 16, 1, 2e-5, 30, 100, dict(NO_EVAL, max_seq_length=512)),
        "bioasq": ("seqcls/bioasq_hf", 16, 1, 2e-5, 20, 100, dict(NO_EVAL, max_seq_length=512)),
        "BIOSSES": (
            "seqcls/BIOSSES_hf",
            16,
            1,
            1e-5,
            30,
            0,
            dict(NO_EVAL, max_seq_length=512, metric_name="pearsonr", seed=5),
        ),
        "HoC": ("seqcls/HoC_hf", 32, 1, 4e-5, 40, 0, dict(NO_EVAL, max_seq_length=512, metric_name="hoc")),
        "chemprot": ("seqcls/chemprot_hf", 32, 1, 3e-5, 10, 0, dict(NO_EVAL, max_seq_length=256, metric_name="PRF1")),
        "DDI": ("seqcls/DDI_hf", 32, 1, 2e-5, 5, 0, dict(NO_EVAL, max_seq_length=256, metric_name="PRF1")),
        "GAD": ("seqcls/GAD_hf", 32, 1, 3e-5, 10, 0, dict(NO_EVAL, max_seq_length=256, metric_name="PRF1")),
        "ebmnlp": ("tokcls/ebmnlp_hf", 32, 1, 5e-5, 1, 0, dict(NO_EVAL, max_seq_length=512, return_macro_metrics=True)),
        "JNLPBA": ("tokcls/JNLPBA_hf", 16, 1, 1e-5, 5, 0.1, dict(NO_EVAL, max_seq_length=512)),
        "NCBI-disease": ("tokcls/NCBI-disease_hf", 32, 1, 5e-5, 20, 0.1, dict(NO_EVAL, max_seq_length=512)),
        "BC2GM": ("tokcls/BC2GM_hf", 32, 1, 6e-5, 50, 0.1, dict(NO_EVAL, max_seq_length=512)),
        "BC5CDR-disease": ("tokcls/BC5CDR-disease_hf", 16, 1, 5e-5, 8, 0.1, dict(NO_EVAL, max_seq_length=512)),
        "BC5CDR-chem": ("tokcls/BC5CDR-chem_hf", 32, 1, 5e-5, 20, 0.1, dict(NO_EVAL, max_seq_length=512)),
    },
    "blurb_biolinkbert-large": {
        "pubmedqa": ("seqcls/pubmedqa_hf", 8, 4, 3e-5, 23, 0.5, dict(NO_EVAL, max_seq_length=512)),
        "bioasq": ("seqcls/bioasq_hf", 8, 4, 3e-5, 30, 0.5, dict(NO_EVAL, max_seq_length=512)),
        "BIOSSES": (
            "seqcls/BIOSSES_hf",
            8,
            4,
            3e-5,
            100,
            0.5,
            dict(NO_EVAL, **WD, max_seq_length=512, metric_name="pearsonr"),
        ),
        "HoC": ("seqcls/HoC_hf", 8, 4, 3e-5, 20, 0.5, dict(NO_EVAL, max_seq_length=512, metric_name="hoc")),
        "chemprot": ("seqcls/chemprot_hf", 16, 1, 2e-5, 4, 0.5, dict(NO_EVAL, max_seq_length=256, metric_name="PRF1")),
        "DDI": ("seqcls/DDI_hf", 16, 1, 2e-5, 3, 0.5, dict(NO_EVAL, max_seq_length=256, metric_name="PRF1")),
        "GAD": ("seqcls/GAD_hf", 16, 1, 2e-5, 5, 0.5, dict(NO_EVAL, max_seq_length=256, metric_name="PRF1")),
        "ebmnlp": (
            "tokcls/ebmnlp_hf",
            8,
            2,
            2e-5,
            1,
            0.5,
            dict(NO_EVAL, max_seq_length=512, return_macro_metrics=True),
        ),
        "JNLPBA": ("tokcls/JNLPBA_hf", 8, 2, 3e-5, 4, 0.5, dict(NO_EVAL, **WD, max_seq_length=512, seed=3)),
        "NCBI-disease": ("tokcls/NCBI-disease_hf", 8, 2, 2e-5, 10, 0.5, dict(NO_EVAL, max_seq_length=512)),
        "BC2GM": ("tokcls/BC2GM_hf", 8, 2, 2e-5, 30, 0.5, dict(NO_EVAL, max_seq_length=512)),
        "BC5CDR-disease": ("tokcls/BC5CDR-disease_hf", 8, 4, 3e-5, 20, 0.5, dict(NO_EVAL, max_seq_length=512)),
        "BC5CDR-chem": ("tokcls/BC5CDR-chem_hf", 8, 2, 2e-5, 8, 0.5, dict(NO_EVAL, max_seq_length=512)),
    },
    "medqa_biolinkbert-base": {
        "medqa": ("mc/medqa_usmle_hf", 4, 8, 2e-5, 2, 100, dict(NO_EVAL, max_seq_length=512)),
    },
    "medqa_biolinkbert-large": {
        "medqa": (
            "mc/medqa_usmle_hf",
            2,
            32,
            3e-5,
            6,
            500,
            dict(WD, max_seq_length=512, eval_strategy="steps", eval_steps=100, per_device_eval_batch_size=2),
        ),
    },
}
CASES = [(recipe, task) for recipe, tasks in EXPECTED.items() for task in tasks]


def dry_run(recipe: str, task: str, **env) -> list[str]:
    """The entry-script command a recipe job would run, as printed by the launcher's DRY_RUN."""
    result = recipe_run(recipe, task, **env)
    assert result.returncode == 0, result.stderr
    commands = launched_commands(result.stdout)
    assert len(commands) == 1
    return commands[0]


@pytest.mark.parametrize("recipe,task", CASES, ids=[f"{r}:{t}" for r, t in CASES])
def test_recipe_job_parses_with_the_paper_hyperparameters(recipe, task):
    cmd = dry_run(recipe, task, MODEL_PATH="/ckpt/model")
    entry = next(item for item in cmd if item.endswith(".py"))
    task_class = task_class_of(entry)
    model_args, data_args, training_args = parse_args(task_class.data_args_class, cmd[cmd.index(entry) + 1 :])
    data_dir, batch, accum, lr, epochs, warmup, other = EXPECTED[recipe][task]
    model = "LinkBERT" if recipe.startswith("mrqa") else "BioLinkBERT"
    model += "-large" if recipe.endswith("large") else "-base"
    assert model_args.model_name_or_path == "/ckpt/model"
    assert data_args.train_file == f"data/{data_dir}/train.json" and data_args.test_file == f"data/{data_dir}/test.json"
    assert training_args.output_dir == f"runs/{data_dir.split('/')[1]}/{model}"
    assert (training_args.per_device_train_batch_size, training_args.gradient_accumulation_steps) == (batch, accum)
    assert training_args.learning_rate == lr and training_args.num_train_epochs == epochs
    assert training_args.warmup_steps == warmup
    assert training_args.fp16 and training_args.save_strategy == "no" and training_args.overwrite_output_dir
    assert training_args.do_train and training_args.do_eval and training_args.do_predict
    for name, value in other.items():
        holder = next(obj for obj in (data_args, training_args) if hasattr(obj, name))
        assert getattr(holder, name) == value, name
    if "seed" not in other:
        assert training_args.seed == 42
    if "weight_decay" not in other:
        assert training_args.weight_decay == 0.0 and training_args.adam_beta2 == 0.999


def test_mmlu_step_evaluates_the_medqa_model_without_training():
    cmd = dry_run("medqa_biolinkbert-large", "mmlu")
    entry = next(item for item in cmd if item.endswith(".py"))
    model_args, data_args, training_args = parse_args(task_class_of(entry).data_args_class, cmd[cmd.index(entry) + 1 :])
    assert model_args.model_name_or_path == "runs/medqa_usmle_hf/BioLinkBERT-large"
    assert data_args.train_file.endswith("mmlu_hf/professional_medicine/dev.json")
    assert data_args.test_file.endswith("mmlu_hf/professional_medicine/test.json")
    assert training_args.do_predict and not training_args.do_train and not training_args.do_eval
    assert training_args.per_device_eval_batch_size == 4 and data_args.max_seq_length == 512


def test_nproc_keeps_the_effective_batch_and_uses_torchrun():
    cmd = dry_run("blurb_biolinkbert-large", "pubmedqa", NPROC="4")
    assert cmd[1:3] == ["-m", "torch.distributed.run"] and cmd[cmd.index("--nproc_per_node") + 1] == "4"
    per_device = int(cmd[cmd.index("--per_device_train_batch_size") + 1])
    accum = int(cmd[cmd.index("--gradient_accumulation_steps") + 1])
    assert per_device * accum * 4 == 8 * 4


def test_unknown_task_is_refused():
    result = subprocess.run(
        ["bash", str(REPO / "run_examples_mrqa_linkbert-base.sh"), "nope"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "unknown task 'nope'" in result.stderr


def test_extra_args_come_after_the_paper_flags_and_win():
    cmd = dry_run("blurb_biolinkbert-base", "chemprot", EXTRA_ARGS="--num_train_epochs 1  --seed 7")
    entry = next(item for item in cmd if item.endswith(".py"))
    # after every paper flag; only the launcher's batch plan follows
    assert cmd[-8:] == ["--num_train_epochs", "1", "--seed", "7", *cmd[-4:]]
    assert cmd[-4::2] == ["--per_device_train_batch_size", "--gradient_accumulation_steps"]
    _, _, training_args = parse_args(task_class_of(entry).data_args_class, cmd[cmd.index(entry) + 1 :])
    assert training_args.num_train_epochs == 1 and training_args.seed == 7 and training_args.learning_rate == 3e-5


def test_a_bad_task_name_stops_before_the_first_job_runs():
    result = subprocess.run(
        ["bash", str(REPO / "run_examples_blurb_biolinkbert-base.sh"), "chemprot", "--num_train_epochs"],
        env=dict(os.environ, DRY_RUN="1", PYTHON=sys.executable),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "unknown task '--num_train_epochs'" in result.stderr
    assert "EXTRA_ARGS" in result.stderr and "[launch]" not in result.stdout


def test_demo_mode_runs_each_family_on_the_bundled_samples(tmp_path):
    model = tmp_path / "tiny"
    model.mkdir()
    (model / "config.json").write_text("{}")
    expected = {
        ("blurb_biolinkbert-base", "DDI"): "seqcls/chemprot_demo_hf",
        ("blurb_biolinkbert-base", "bioasq"): "seqcls/pubmedqa_demo_hf",
        ("blurb_biolinkbert-base", "BC2GM"): "tokcls/ner_demo_hf",
        ("mrqa_linkbert-base", "hotpot"): "qa/mrqa_demo_hf",
        ("medqa_biolinkbert-base", "medqa"): "mc/medqa_demo_hf",
    }
    for (recipe, task), folder in expected.items():
        cmd = dry_run(recipe, task, DEMO="1", MODEL_PATH=str(model))
        assert cmd[cmd.index("--train_file") + 1] == str(REPO / "demo" / "sample_data" / folder / "train.json")
        assert cmd[cmd.index("--model_name_or_path") + 1] == str(model)
        for split in ("train", "dev", "test"):
            assert (REPO / "demo" / "sample_data" / folder / f"{split}.json").is_file()


def test_demo_mode_without_the_demo_model_says_how_to_build_it(tmp_path):
    result = subprocess.run(
        ["bash", str(REPO / "run_examples_blurb_biolinkbert-base.sh"), "chemprot"],
        env=dict(os.environ, DRY_RUN="1", DEMO="1", MODEL_PATH=str(tmp_path / "absent")),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "make demo" in result.stderr


def test_recipes_use_the_project_venv_when_there_is_one():
    text = (REPO / "scripts" / "recipe_common.sh").read_text()
    assert '"$REPO_ROOT/.venv/bin/python"' in text
    result = subprocess.run(
        ["bash", "-c", 'source scripts/recipe_common.sh; echo "$PYTHON"'],
        cwd=REPO,
        env={k: v for k, v in os.environ.items() if k != "PYTHON"},
        capture_output=True,
        text=True,
    )
    venv = REPO / ".venv" / "bin" / "python"
    assert result.stdout.strip() == (str(venv) if venv.exists() else "python")


def test_the_data_check_expects_exactly_the_folders_the_recipes_read():
    from linkbert.tools.check_data import EXPECTED as CHECKED

    read_by_recipes = {data_dir for tasks in EXPECTED.values() for data_dir, *_ in tasks.values()}
    read_by_recipes.add("mc/mmlu_hf/professional_medicine")  # the MMLU step (test above)
    assert set(CHECKED) == read_by_recipes


def test_the_data_check_names_what_is_missing(tmp_path, capsys):
    from linkbert.tools.check_data import main as check_data

    assert check_data([str(tmp_path)]) == 2
    assert "no recipe data found" in capsys.readouterr().err
    for name in ("train.json", "dev.json", "test.json"):
        (tmp_path / "seqcls" / "chemprot_hf").mkdir(parents=True, exist_ok=True)
        (tmp_path / "seqcls" / "chemprot_hf" / name).write_text("{}\n")
    (tmp_path / "seqcls" / "DDI_hf").mkdir()
    (tmp_path / "seqcls" / "DDI_hf" / "train.json").write_text("{}\n")
    assert check_data([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{tmp_path / 'seqcls' / 'chemprot_hf'}: ok" in out
    assert f"{tmp_path / 'seqcls' / 'DDI_hf'}: missing dev.json, test.json" in out
    assert "1 of 21 recipe data folders complete" in out
