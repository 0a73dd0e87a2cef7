"""build_pairs gives the same shards, byte for byte, whatever the number of worker processes and the
chunk size, and a worker's error reaches the user as the usual one-line error."""

import json
import random

import pytest
from helpers import build_pairs, write_jsonl

from linkbert.cli import flags
from linkbert.tools.tiny_bert import train_wordpiece_vocab

WORDS = "river hill town boat sheep wool honey storm bridge lamp".split()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """60 documents of 1-6 sentences, 0-3 links each (some dangling), one without text."""
    from transformers import BertTokenizerFast

    root = tmp_path_factory.mktemp("workers")
    rng = random.Random(4)
    docs = []
    for i in range(60):
        text = " ".join(" ".join(rng.choices(WORDS, k=rng.randint(3, 8))) + "." for _ in range(rng.randint(1, 6)))
        links = [f"d{j}" for j in rng.sample(range(60), rng.randint(0, 3))] + ["missing"] * (i % 7 == 0)
        docs.append({"id": f"d{i}", "text": text, "links": links})
    docs.insert(20, {"id": "blank", "text": "", "links": ["d1"]})
    vocab = train_wordpiece_vocab([d["text"] for d in docs], 60, lowercase=True)
    (root / "tok").mkdir()
    (root / "tok" / "vocab.txt").write_text("".join(t + "\n" for t in vocab))
    BertTokenizerFast(vocab=str(root / "tok" / "vocab.txt")).save_pretrained(root / "tok")
    return {"root": root, "path": write_jsonl(root / "corpus.jsonl", docs), "tok": root / "tok"}


def build(corpus, name, **extra):
    out = corpus["root"] / name
    argv = flags(
        corpus=corpus["path"],
        tokenizer=corpus["tok"],
        output_dir=out,
        max_seq_length="48",
        segment_length="16",
        seed="9",
        num_shards="4",
        dupe_factor="2",
        **extra,
    )
    assert build_pairs(argv) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    files = {s["file"]: (out / s["file"]).read_bytes() for s in manifest["shards"]}
    assert sorted(p.name for p in out.iterdir()) == sorted([*files, "manifest.json"])  # work folder removed
    return manifest, files


@pytest.mark.slow
def test_same_shards_for_one_two_and_three_workers(corpus):
    manifest, one = build(corpus, "w1", num_workers="1", chunk_documents="7")
    assert manifest["num_pairs"] > 200 and len(one) == 4
    for workers, chunk in (("2", "7"), ("3", "7"), ("2", "25")):
        other_manifest, other = build(corpus, f"w{workers}-{chunk}", num_workers=workers, chunk_documents=chunk)
        assert other == one, (workers, chunk)
        for key in ("pair_counts", "pair_fractions", "num_contiguous_split", "corpus_stats", "shards"):
            assert other_manifest[key] == manifest[key], key


def test_another_seed_gives_other_shards(corpus):
    _, first = build(corpus, "s9", chunk_documents="7")
    _, again = build(corpus, "s9-again", chunk_documents="61")
    assert again == first  # a single chunk: still the same rows in the same order
    argv = flags(corpus=corpus["path"], tokenizer=corpus["tok"], output_dir=corpus["root"] / "s10")
    argv += flags(max_seq_length="48", segment_length="16", seed="10", num_shards="4", dupe_factor="2")
    assert build_pairs(argv) == 0
    assert (corpus["root"] / "s10" / next(iter(first))).read_bytes() != first[next(iter(first))]


def test_a_workers_error_names_file_line_and_field(corpus, capsys):
    lines = corpus["path"].read_text().splitlines()
    lines[33] = json.dumps({"id": "x33", "text": 5})
    bad = corpus["root"] / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")
    out = corpus["root"] / "bad-out"
    argv = flags(corpus=bad, tokenizer=corpus["tok"], output_dir=out, num_workers="2", chunk_documents="10")
    assert build_pairs(argv) == 2
    assert f"{bad}:34: field 'text': expected the document text as a string, got a int" in capsys.readouterr().err
    assert not out.exists()


def test_a_rebuild_in_the_same_process_and_folder_reads_the_new_corpus(corpus):
    lines = corpus["path"].read_text().splitlines()
    smaller = corpus["root"] / "smaller.jsonl"
    smaller.write_text("\n".join(lines[:30]) + "\n")
    _, expected = build(dict(corpus, path=smaller), "fresh")
    build(corpus, "same")  # the whole corpus first, then the smaller one into the same folder
    _, rebuilt = build(dict(corpus, path=smaller), "same", overwrite_output_dir=True)
    assert rebuilt == expected
