"""Tokenized splits are cached by datasets; a new version of the package must not reuse them."""

from helpers import FAST_FLAGS, full_run_argv, make_seqcls_splits, relation_example, run_seqcls

import linkbert.finetune.run
from linkbert.finetune.tasks.seqcls import SequenceClassification


def test_tokenized_splits_are_reused_only_by_the_same_package_source(tiny_model, tmp_path, monkeypatch):
    paths = make_seqcls_splits(tmp_path, relation_example, sizes=(8, 4, 4))
    featurized = []
    original = SequenceClassification.featurize

    def counting(self, batch, tokenizer, split):
        featurized.append(split)
        return original(self, batch, tokenizer, split)

    monkeypatch.setattr(SequenceClassification, "featurize", counting)

    def run(name):
        featurized.clear()
        assert (
            run_seqcls([*full_run_argv(tiny_model, paths, tmp_path / name), "--max_seq_length", "32", *FAST_FLAGS]) == 0
        )
        return sorted(set(featurized))

    assert run("first") == ["test", "train", "validation"]
    assert run("second") == []  # same data, tokenizer, flags and code: all three splits from the cache
    monkeypatch.setattr(linkbert.finetune.run, "package_source_hash", lambda: "another version of the code")
    assert run("third") == ["test", "train", "validation"]


def test_tokenizing_workers_are_capped_by_the_split_size():
    from linkbert.finetune.run import EXAMPLES_PER_PROCESS, tokenizing_processes

    assert tokenizing_processes(None, 100_000) is None
    assert tokenizing_processes(10, 160) is None  # the MRQA recipe's 10 workers on a demo split: one process
    assert tokenizing_processes(10, 3 * EXAMPLES_PER_PROCESS) == 3
    assert tokenizing_processes(10, 3 * EXAMPLES_PER_PROCESS + 1) == 4
    assert tokenizing_processes(10, 100_000) == 10
