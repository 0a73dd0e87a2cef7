"""--help answers with what a script does and an example, without importing torch; a model name that
cannot be loaded fails at once with one line saying why (missing folder, or Hub unreachable and
not cached)."""

import os
import subprocess
import sys

import pytest
from helpers import REPO, make_seqcls_splits, relation_example, run_seqcls

from linkbert.cli import flags

# Runs an entry point's main(["--help"]) and reports whether torch was imported on the way.
HELP_PROBE = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("entry", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
status = module.main([sys.argv[2]])
print("TORCH_IMPORTED=" + str("torch" in sys.modules))
sys.exit(status)
"""


def help_text(script: str, flag: str = "--help") -> tuple[str, bool]:
    result = subprocess.run(
        [sys.executable, "-c", HELP_PROBE, str(REPO / "src" / script), flag],
        env=dict(os.environ, PYTHONPATH=str(REPO / "src")),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    body, _, marker = result.stdout.rpartition("TORCH_IMPORTED=")
    return body, marker.strip() == "True"


@pytest.mark.parametrize(
    "script,first_words",
    [
        ("seqcls/run_seqcls.py", "Fine-tune a (Bio)LinkBERT checkpoint on sequence classification"),
        ("qa/run_qa.py", "Fine-tune a LinkBERT checkpoint on extractive QA"),
        ("tokcls/run_ner.py", "Fine-tune a (Bio)LinkBERT checkpoint on named-entity recognition"),
        ("mc/run_multiple_choice.py", "Fine-tune a (Bio)LinkBERT checkpoint on multiple-choice QA"),
        ("pretrain/run_pretrain.py", "Pretrain LinkBERT"),
    ],
)
def test_help_says_what_the_script_does_with_an_example_before_the_flags(script, first_words):
    text, torch_imported = help_text(script)
    assert not torch_imported
    description, example, flags_section = (
        text.index(first_words),
        text.index(f"python src/{script}"),
        text.index("--model_name_or_path MODEL_NAME_OR_PATH"),
    )
    assert description < example < flags_section
    assert "\\\n" in text  # the example's line continuations survive (raw docstrings)
    if script != "pretrain/run_pretrain.py":
        assert "--help_all lists them all" in text and len(text.splitlines()) < 200


def test_help_all_lists_the_trainer_flags_too():
    text, _ = help_text("seqcls/run_seqcls.py", "--help_all")
    for flag in ("--learning_rate", "--num_train_epochs", "--overwrite_output_dir", "--metric_name"):
        assert flag in text


def test_a_hub_id_that_cannot_be_reached_fails_at_once_with_one_line(tiny_model, tmp_path, capsys):
    # the tests run with HF_HUB_OFFLINE=1: the Hub counts as unreachable, and nothing is cached
    assert os.environ.get("HF_HUB_OFFLINE") == "1"
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(8, 4, 4))
    argv = flags(
        model_name_or_path="someorg/not-a-model", train_file=paths["train"], do_train=True, output_dir=tmp_path / "o"
    )
    assert run_seqcls(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot reach the HuggingFace Hub" in err[0] and "not in the local cache" in err[0]
    assert "hf download someorg/not-a-model" in err[0]
    assert not (tmp_path / "o").exists()


def test_a_mistyped_relative_path_is_a_missing_folder_not_a_hub_id(tmp_path, capsys, monkeypatch):
    (tmp_path / "models").mkdir()
    monkeypatch.chdir(tmp_path)
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(8, 4, 4))
    argv = flags(model_name_or_path="models/BioLinkBERT-base", train_file=paths["train"], do_train=True, output_dir="o")
    assert run_seqcls(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: checkpoint directory not found: models/BioLinkBERT-base"
