"""Fixtures and the test environment: offline, no tracking, isolated caches, a tiny BERT built
locally. Plain helpers shared by the test modules are in helpers.py."""

import os
from pathlib import Path

import pytest
from helpers import VOCAB_TEXT

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["WANDB_MODE"] = "disabled"
os.environ["TOKENIZERS_PARALLELISM"] = "false"


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
