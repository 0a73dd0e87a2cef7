"""Shared fixtures: offline environment, a tiny BERT built locally, JSON-lines helpers."""

import json
import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "disabled"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
VOCAB_TEXT = [
    "the protein binds the gene and inhibits growth of tumor cells",
    "aspirin activates receptor expression while metformin blocks kinase signaling",
    "does the drug reduce the dose ? yes no maybe",
    "red blue green yellow alpha beta gamma delta cat dog bird fish",
    "patients with chronic disease were treated in the clinic during the study",
]


@pytest.fixture(scope="session", autouse=True)
def _isolated_caches(tmp_path_factory):
    cache = tmp_path_factory.mktemp("hf_cache")
    os.environ["HF_DATASETS_CACHE"] = str(cache / "datasets")
    os.environ["HF_HOME"] = str(cache / "home")
    import datasets

    datasets.config.HF_DATASETS_CACHE = Path(os.environ["HF_DATASETS_CACHE"])


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer, hidden-32 BERT with a WordPiece vocabulary trained on VOCAB_TEXT."""
    from linkbert.tools.tiny_bert import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny") / "tiny-bert", VOCAB_TEXT * 20, vocab_size=200, seed=0)


def write_jsonl(path: Path, records) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


def load_entry_point(relative_path: str):
    """Import an entry script (e.g. "seqcls/run_seqcls.py" under src/) by path and return its main."""
    import importlib.util

    path = REPO / "src" / relative_path
    spec = importlib.util.spec_from_file_location(f"entry_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


# Flags that make a tiny CPU run quick and quiet; tests add the task's own.
FAST_FLAGS = ["--save_strategy", "no", "--report_to", "none", "--disable_tqdm", "true", "--log_level", "warning", "--seed", "42"]


def assert_one_line_error(capsys, fragments, output_dir: Path) -> None:
    """The run printed exactly one `error: ...` line containing every fragment, and wrote nothing."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    for fragment in fragments:
        assert fragment in err[0], (fragment, err[0])
    assert not output_dir.exists()


def full_run_argv(model, paths: dict, out: Path) -> list[str]:
    """The flags every end-to-end test passes: model, the three splits, train+eval+predict, output."""
    return [
        "--model_name_or_path", str(model), "--train_file", str(paths["train"]), "--validation_file", str(paths["dev"]),
        "--test_file", str(paths["test"]), "--do_train", "--do_eval", "--do_predict", "--output_dir", str(out),
    ]  # fmt: skip
