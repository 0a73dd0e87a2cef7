"""The recipes' SEEDS / LRS / EPOCHS, dry-run: one run per seed and grid point, into seed<k>/ and
lr<lr>_ep<epochs>/, their flags after the paper's (so they win); bad values stop before any job."""

import re
import sys

import pytest
from helpers import launched_commands, parsed_command, recipe_run

# ---------------------------------------------------------------- the recipes: SEEDS, LRS, EPOCHS


def test_seeds_run_once_each_with_the_seed_last_and_their_own_folder(tmp_path):
    result = recipe_run("blurb_biolinkbert-base", "BIOSSES", SEEDS="1 2 3 4 5")
    assert result.returncode == 0, result.stderr
    commands = launched_commands(result.stdout)
    assert len(commands) == 5
    for seed, cmd in enumerate(commands, start=1):
        _, _, training_args = parsed_command(cmd)
        # the paper's BIOSSES job passes --seed 5; the run's own --seed comes after it and wins
        assert cmd.count("--seed") == 2 and training_args.seed == seed
        assert training_args.output_dir == f"runs/BIOSSES_hf/BioLinkBERT-base/seed{seed}"
        assert training_args.learning_rate == 1e-5 and training_args.num_train_epochs == 30  # the paper's
    # the log goes into the seed's folder too: what the recipe hands the launcher
    record = tmp_path / "argv.txt"
    fake = tmp_path / "python"
    fake.write_text(
        f"#!{sys.executable}\nimport sys\nopen({str(record)!r}, 'a').write(' '.join(sys.argv[1:]) + '\\n')\n"
    )
    fake.chmod(0o755)
    result = recipe_run("blurb_biolinkbert-base", "BIOSSES", SEEDS="1 2", PYTHON=str(fake))
    assert result.returncode == 0, result.stderr
    logs = re.findall(r"--log (\S+)", record.read_text())
    assert logs == [f"runs/BIOSSES_hf/BioLinkBERT-base/seed{k}/log.txt" for k in (1, 2)]


def test_grid_points_and_seeds_get_their_folders_and_flags():
    result = recipe_run("blurb_biolinkbert-base", "chemprot", LRS="1e-5 3e-5", EPOCHS="2 4", SEEDS="7 8")
    assert result.returncode == 0, result.stderr
    commands = launched_commands(result.stdout)
    seen = []
    for cmd in commands:
        _, _, args = parsed_command(cmd)
        seen.append((args.learning_rate, args.num_train_epochs, args.seed, args.output_dir))
    base = "runs/chemprot_hf/BioLinkBERT-base"
    assert seen == [
        (lr, ep, seed, f"{base}/lr{lr_text}_ep{ep}/seed{seed}")
        for lr, lr_text in ((1e-5, "1e-5"), (3e-5, "3e-5"))
        for ep in (2, 4)
        for seed in (7, 8)
    ]
    # only LRS: the job's own epochs (chemprot: 10) name the folder; no seed folder
    result = recipe_run("blurb_biolinkbert-base", "chemprot", LRS="2e-5")
    (cmd,) = launched_commands(result.stdout)
    _, _, args = parsed_command(cmd)
    assert (args.learning_rate, args.num_train_epochs, args.seed) == (2e-5, 10, 42)
    assert args.output_dir == f"{base}/lr2e-5_ep10"
    assert cmd[cmd.index("--learning_rate", cmd.index("--learning_rate") + 1) + 1] == "2e-5"  # after the paper's


def test_mmlu_evaluates_each_seeds_medqa_model():
    result = recipe_run("medqa_biolinkbert-large", "medqa", "mmlu", SEEDS="1 2", EPOCHS="3")
    assert result.returncode == 0, result.stderr
    commands = launched_commands(result.stdout)
    assert len(commands) == 4
    for seed, cmd in zip((1, 2), commands[2:], strict=True):
        model_args, _, args = parsed_command(cmd)
        assert model_args.model_name_or_path == f"runs/medqa_usmle_hf/BioLinkBERT-large/lr3e-5_ep3/seed{seed}"
        assert args.output_dir == f"runs/mmlu_professional_medicine_eval/BioLinkBERT-large/lr3e-5_ep3/seed{seed}"


@pytest.mark.parametrize(
    "variable,value,bad",
    [
        ("SEEDS", "1 x", "x"),
        ("SEEDS", "-3", "-3"),
        ("SEEDS", "99999999999", "99999999999"),
        ("LRS", "abc", "abc"),
        ("LRS", "1e-5 $(touch pwned)", "$(touch"),
        ("EPOCHS", "-1", "-1"),
        ("EPOCHS", "0", "0"),
        ("SEEDS", "2 2", "2"),
    ],
)
def test_bad_values_stop_before_any_job(variable, value, bad, tmp_path):
    result = recipe_run("blurb_biolinkbert-base", "chemprot", "BIOSSES", cwd=tmp_path, **{variable: value})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {variable}: ") and bad in lines[0], lines
    assert "[launch]" not in result.stdout
    assert not (tmp_path / "pwned").exists()
