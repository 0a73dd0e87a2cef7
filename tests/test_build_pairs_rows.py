"""build_pairs rows against segments rebuilt independently in the test, and the pair mix.

The corpus is made of sentences of exactly four one-token words and a full stop (5 tokens each), so
with --segment_length 10 segment k of a document is its sentences 2k and 2k + 1, without running
the project's segmenter. Each sentence is tokenized here with the `transformers` tokenizer."""

import json
import random

import pyarrow as pa
import pytest
from helpers import build_pairs, write_jsonl

from linkbert.cli import flags
from linkbert.pretrain.pairs import CONTIGUOUS, LINKED, RANDOM, sample_pairs

WORDS = "river hill town boat sheep wool honey storm bridge lamp".split()


def sentence(rng) -> str:
    return " ".join(rng.choices(WORDS, k=4)) + "."


def make_tokenizer(folder):
    from transformers import BertTokenizerFast

    folder.mkdir()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    (folder / "vocab.txt").write_text("".join(t + "\n" for t in [*specials, ".", *WORDS]))
    BertTokenizerFast(vocab=str(folder / "vocab.txt")).save_pretrained(folder)
    return BertTokenizerFast.from_pretrained(folder)


def corpus_docs(num_docs, sentences_per_doc, seed=0, links_per_doc=2):
    rng = random.Random(seed)
    docs = []
    for i in range(num_docs):
        count = sentences_per_doc if isinstance(sentences_per_doc, int) else rng.choice(sentences_per_doc)
        targets = rng.sample([j for j in range(num_docs) if j != i], links_per_doc)
        docs.append(
            {"id": f"d{i}", "text": " ".join(sentence(rng) for _ in range(count)), "links": [f"d{j}" for j in targets]}
        )
    return docs


def run_build(tmp_path, docs, name="out", **extra):
    corpus = write_jsonl(tmp_path / f"{name}.jsonl", docs)
    tok_dir = tmp_path / "tok"
    tok = make_tokenizer(tok_dir)
    argv = flags(
        corpus=corpus,
        tokenizer=tok_dir,
        output_dir=tmp_path / name,
        max_seq_length="40",
        segment_length="10",
        seed="5",
        **extra,
    )
    assert build_pairs(argv) == 0
    manifest = json.loads((tmp_path / name / "manifest.json").read_text())
    tables = [pa.ipc.open_file(pa.memory_map(str(tmp_path / name / s["file"]))).read_all() for s in manifest["shards"]]
    return manifest, pa.concat_tables(tables).to_pylist(), tok


def expected_segments(docs, tok):
    """{doc id: [token ids of segment 0, 1, ...]}: two sentences per segment."""
    segments = {}
    for doc in docs:
        sentences = [s + "." for s in doc["text"].split(".") if s.strip()]
        ids = [tok(s.strip(), add_special_tokens=False)["input_ids"] for s in sentences]
        assert all(len(i) == 5 for i in ids)  # four words and the full stop
        segments[doc["id"]] = [sum(ids[k : k + 2], []) for k in range(0, len(ids), 2)]
    return segments


def test_every_row_holds_the_tokens_of_its_recorded_segments(tmp_path):
    docs = corpus_docs(30, [1, 2, 3, 4, 5], seed=1)
    manifest, rows, tok = run_build(tmp_path, docs, dupe_factor="3", num_shards="2")
    segments = expected_segments(docs, tok)
    assert len(rows) == 3 * sum(len(s) for s in segments.values()) == manifest["num_pairs"]
    split_rows = 0
    for row in rows:
        a = segments[row["doc_a"]][row["seg_a"]]
        b = segments[row["doc_b"]][row["seg_b"]]
        if row["seg_a"] == row["seg_b"] and row["doc_a"] == row["doc_b"]:
            # a one-segment document of two sentences cut at its only sentence boundary
            assert row["pair_label"] == CONTIGUOUS and len(segments[row["doc_a"]]) == 1
            a, b = a[:5], a[5:]
            split_rows += 1
        assert row["input_ids"] == [tok.cls_token_id, *a, tok.sep_token_id, *b, tok.sep_token_id]
        assert row["token_type_ids"] == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    assert split_rows == manifest["num_contiguous_split"] > 0
    # one-sentence documents cannot be split: they never give a contiguous pair
    one_sentence = {d["id"] for d in docs if d["text"].count(".") == 1}
    assert one_sentence and not any(r["pair_label"] == CONTIGUOUS and r["doc_a"] in one_sentence for r in rows)


def test_short_documents_keep_one_third_of_each_relation(tmp_path):
    # every document is one two-sentence segment with two links: all three relations are feasible
    # for every anchor, so each has probability 1/3; the standard deviation over 600 pairs is 0.019
    docs = corpus_docs(200, 2, seed=2)
    manifest, rows, _ = run_build(tmp_path, docs, dupe_factor="3")
    assert manifest["num_pairs"] == 600 and manifest["dupe_factor"] == 3
    for name, fraction in manifest["pair_fractions"].items():
        assert abs(fraction - 1 / 3) < 0.07, (name, fraction)
    counts = manifest["pair_counts"]
    assert sum(counts.values()) == 600
    assert counts == {
        n: sum(r["pair_label"] == i for r in rows) for i, n in enumerate(("contiguous", "random", "linked"))
    }
    assert manifest["num_contiguous_split"] == counts["contiguous"]


def test_each_pass_draws_a_fresh_partner():
    # n documents of 2 segments, each linking to one other: P(two passes give an anchor the same
    # (label, doc_b, seg_b)) = 1/9 * (1 [contiguous: same pair] + 1/(2(n-1)) [random] + 1/2 [linked])
    n = 40
    links = [[(d + 1) % n] for d in range(n)]
    pairs = sample_pairs([2] * n, links, 11, dupe_factor=2)
    first, second = pairs[: 2 * n], pairs[2 * n :]
    same = 0
    for one, two in zip(first, second, strict=True):
        same += (one.label, one.doc_b, one.seg_b) == (two.label, two.doc_b, two.seg_b)
    assert len(pairs) == 4 * n
    expected = (1 + 1 / (2 * (n - 1)) + 1 / 2) / 9
    # 80 anchors: the standard deviation of the matching fraction is about 0.04
    # (a partner fixed for all passes would match every time)
    assert abs(same / (2 * n) - expected) < 0.13


@pytest.mark.parametrize("dupe_factor", [1, 4])
def test_dupe_factor_gives_every_anchor_that_many_pairs(dupe_factor):
    segments, links = [3, 1, 2], [[1], [2], [0]]
    pairs = sample_pairs(segments, links, 3, dupe_factor=dupe_factor, split_points=[[], [], []])
    anchors = [(p.doc_a, p.seg_a) for p in pairs if p.label != CONTIGUOUS]
    assert len(pairs) == dupe_factor * 6
    assert all(anchors.count(a) <= dupe_factor for a in set(anchors))


def test_split_points_make_contiguous_pairs_of_one_segment_documents():
    # doc 0: one segment with boundaries at tokens 4 and 9; doc 1: one segment, one sentence
    pairs = sample_pairs([1, 1], [[], []], 0, dupe_factor=400, split_points=[[4, 9], []])
    from_zero = [p for p in pairs if p.doc_a == 0]
    contiguous = [p for p in from_zero if p.label == CONTIGUOUS]
    # doc 0 has contiguous and random feasible (no links): 1/2 each; the boundary drawn uniformly
    assert abs(len(contiguous) / len(from_zero) - 0.5) < 0.08
    assert {(p.seg_a, p.seg_b, p.doc_b) for p in contiguous} == {(0, 0, 0)}
    splits = [p.split for p in contiguous]
    assert set(splits) == {4, 9} and abs(splits.count(4) / len(splits) - 0.5) < 0.1
    assert {p.label for p in pairs if p.doc_a == 1} == {RANDOM}
    assert all(p.split == -1 for p in pairs if p.label != CONTIGUOUS)
    assert LINKED not in {p.label for p in pairs}


def test_chunks_cover_every_line_once_with_its_number(tmp_path):
    from linkbert.pretrain.corpus import chunk_offsets, read_chunk

    lines = ['{"id": "a", "text": "x"}', "", '{"id": "b", "text": "y"}', "   ", '{"id": "c", "text": "z"}']
    path = tmp_path / "c.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode())  # a byte-order mark, no final newline
    offsets = chunk_offsets(path, 2)
    assert len(offsets) == 4 and offsets[0] == 0 and offsets[-1] == path.stat().st_size
    found = []
    for chunk in range(3):
        found += [(n, r["id"]) for n, r in read_chunk(path, offsets[chunk], offsets[chunk + 1], 2 * chunk + 1)]
    assert found == [(1, "a"), (3, "b"), (5, "c")]


def test_no_links_build_has_no_linked_pairs_but_reports_the_links(tmp_path):
    # 100 documents of four sentences: two segments each, so contiguous and random are both feasible
    docs = corpus_docs(100, 4, seed=3)
    manifest, rows, _ = run_build(tmp_path, docs, no_links=True)
    assert manifest["corpus_stats"]["links"] == 200 and manifest["pair_counts"]["linked"] == 0
    assert manifest["num_pairs"] == 200 and abs(manifest["pair_fractions"]["contiguous"] - 0.5) < 0.1
    assert {r["pair_label"] for r in rows} == {CONTIGUOUS, RANDOM}
