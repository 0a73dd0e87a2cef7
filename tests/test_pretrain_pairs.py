"""Pretraining data: corpus validation, converters, segments and the pair sampler (ACL §4).

The sampler tests run on synthetic link graphs built here, so every expected proportion is
computed from the graph, independently of the sampler's code."""

import json
import random

import numpy as np
import pyarrow as pa
import pytest
from helpers import build_pairs, write_jsonl

from linkbert.cli import flags
from linkbert.errors import DataError
from linkbert.pretrain.convert import convert_pubmed, convert_wikipedia, normalize_title, strip_anchors
from linkbert.pretrain.corpus import read_corpus
from linkbert.pretrain.pairs import CONTIGUOUS, LINKED, RANDOM, count_types, sample_pairs
from linkbert.pretrain.segments import pack_sentences, split_sentences, truncate_pair


def synthetic_graph(num_docs=60, seed=0, min_segments=2, max_links=5):
    """Documents with 2-6 segments each, every one linking to 1..max_links others."""
    rng = random.Random(seed)
    segments = [rng.randint(min_segments, 6) for _ in range(num_docs)]
    links = [rng.sample([d for d in range(num_docs) if d != doc], rng.randint(1, max_links)) for doc in range(num_docs)]
    return segments, links


def fractions(pairs):
    counts = count_types(pairs)
    return {name: count / len(pairs) for name, count in counts.items()}


# ---------------------------------------------------------------- sampler


def test_three_types_one_third_each():
    segments, links = synthetic_graph()
    pairs = sample_pairs(segments, links, 1, dupe_factor=20)
    assert len(pairs) == 20 * sum(segments)
    # every anchor can take all three relations, so each has probability exactly 1/3;
    # the standard deviation of a fraction over ~5000 pairs is ~0.007
    for name, value in fractions(pairs).items():
        assert abs(value - 1 / 3) < 0.03, (name, value)


def test_every_pair_has_the_relation_its_label_says():
    segments, links = synthetic_graph(seed=3)
    pairs = sample_pairs(segments, links, 2, dupe_factor=5)
    for pair in pairs:
        assert 0 <= pair.seg_a < segments[pair.doc_a] and 0 <= pair.seg_b < segments[pair.doc_b]
        if pair.label == CONTIGUOUS:
            assert (pair.doc_b, pair.seg_b) == (pair.doc_a, pair.seg_a + 1)
        elif pair.label == RANDOM:
            assert pair.doc_b != pair.doc_a
        else:
            assert pair.label == LINKED and pair.doc_b in links[pair.doc_a]


def test_every_segment_is_an_anchor_once_per_pass():
    segments, links = synthetic_graph(seed=4)
    pairs = sample_pairs(segments, links, 0, dupe_factor=1)
    anchors = sorted((p.doc_a, p.seg_a) for p in pairs if p.label != CONTIGUOUS)
    assert len(set(anchors)) == len(anchors)  # no anchor twice among random/linked pairs
    assert len(pairs) == sum(segments)
    # one pair per segment, in corpus order: pair i is anchored at the i-th segment, except that a
    # last segment's contiguous pair starts one segment earlier (it has no successor)
    every_segment = [(doc, seg) for doc, count in enumerate(segments) for seg in range(count)]
    for pair, (doc, seg) in zip(pairs, every_segment, strict=True):
        last_contiguous = pair.label == CONTIGUOUS and seg == segments[doc] - 1
        assert (pair.doc_a, pair.seg_a) == ((doc, seg - 1) if last_contiguous else (doc, seg)), (pair, doc, seg)


def test_same_seed_same_pairs_other_seed_other_pairs():
    segments, links = synthetic_graph()
    first = sample_pairs(segments, links, 7)
    assert sample_pairs(segments, links, 7) == first
    assert sample_pairs(segments, links, 8) != first


def hub_and_rare_graph(hub_in_degree):
    """Doc 0 (10 segments) links to a hub (doc 1) and a rare target (doc 2). The hub is also linked
    from docs 3.., so in-degree(hub) = hub_in_degree and in-degree(rare) = 1."""
    num_docs = 3 + hub_in_degree - 1
    links = [[1, 2], [], []] + [[1] for _ in range(hub_in_degree - 1)]
    segments = [10] + [2] * (num_docs - 1)
    return segments, links


def rare_fraction(diversity, hub_in_degree=9):
    segments, links = hub_and_rare_graph(hub_in_degree)
    pairs = sample_pairs(segments, links, 5, diversity=diversity, dupe_factor=1000)
    from_zero = [p.doc_b for p in pairs if p.doc_a == 0 and p.label == LINKED]
    assert len(from_zero) > 3000
    return from_zero.count(2) / len(from_zero)


def test_diversity_prefers_the_rarely_linked_target():
    # weights 1/in-degree: rare 1/1, hub 1/9 -> P(rare) = 1 / (1 + 1/9) = 0.9 (uniform would be 0.5)
    assert abs(rare_fraction(diversity=True) - 0.9) < 0.03


def test_no_diversity_draws_links_uniformly():
    assert abs(rare_fraction(diversity=False) - 0.5) < 0.05


def test_corpus_without_links_gets_contiguous_random_half_half():
    segments, _ = synthetic_graph()
    pairs = sample_pairs(segments, [[] for _ in segments], 3, dupe_factor=20)
    share = fractions(pairs)
    assert share["linked"] == 0
    assert abs(share["contiguous"] - 0.5) < 0.03 and abs(share["random"] - 0.5) < 0.03


def test_no_links_ablation_ignores_the_graph():
    segments, links = synthetic_graph()
    share = fractions(sample_pairs(segments, links, 3, use_links=False, dupe_factor=20))
    assert share["linked"] == 0 and abs(share["contiguous"] - 0.5) < 0.03


def test_fallbacks_for_documents_without_links_or_second_segment():
    # doc 0: one segment (no sentence boundary given to split at), no links -> random only;
    # doc 1: two segments, no links -> contiguous/random
    segments, links = [1, 2, 3], [[], [], [0]]
    pairs = sample_pairs(segments, links, 0, dupe_factor=200)
    assert {p.label for p in pairs if p.doc_a == 0} == {RANDOM}
    assert {p.label for p in pairs if p.doc_a == 1} == {CONTIGUOUS, RANDOM}
    assert {p.label for p in pairs if p.doc_a == 2} == {CONTIGUOUS, RANDOM, LINKED}
    # the last segment's contiguous pair is (previous, last): still adjacent, still in order
    assert {(p.seg_a, p.seg_b) for p in pairs if p.doc_a == 1 and p.label == CONTIGUOUS} == {(0, 1)}


def test_self_links_and_repeats_do_not_count():
    # doc 0 links to itself and three times to doc 1: only one usable link, to doc 1
    pairs = sample_pairs([3, 2], [[0, 1, 1, 1], []], 0, dupe_factor=50)
    assert {p.doc_b for p in pairs if p.label == LINKED} == {1}


def test_sampler_rejects_empty_documents():
    with pytest.raises(ValueError, match="at least one segment"):
        sample_pairs([2, 0], [[1], []], 0)


# ---------------------------------------------------------------- segments


def test_split_sentences_and_pack_up_to_the_segment_length():
    assert split_sentences("One two. Three four!  Five?\nSix") == ["One two.", "Three four!", "Five?", "Six"]
    sentences = [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]]
    assert pack_sentences(sentences, 5) == [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    # a sentence longer than the limit is cut into full pieces
    assert pack_sentences([list(range(7))], 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert pack_sentences(sentences, 5, pack=False) == [[1, 2, 3], [4, 5], [6, 7, 8, 9], [10]]


def test_truncation_keeps_the_junction_between_a_and_b():
    a, b = np.arange(10), np.arange(100, 104)
    ta, tb, cut = truncate_pair(a, b, 10)
    assert cut and len(ta) + len(tb) == 10
    assert ta[-1] == 9 and tb[0] == 100  # A loses its start, B its end
    assert truncate_pair(a, b, 14)[2] is False


# ---------------------------------------------------------------- corpus file


def test_corpus_reports_bad_records_with_line_and_field(tmp_path):
    good = {"id": "a", "text": "x", "links": []}
    cases = [
        ([good, {"id": "a", "text": "y"}], 2, "id", "duplicate"),
        ([good, {"id": "b"}], 2, "text", "missing"),
        ([{"id": "b", "text": "x", "links": "a"}], 1, "links", "list"),
    ]
    for records, line, field, words in cases:
        path = write_jsonl(tmp_path / f"{field}.jsonl", records)
        with pytest.raises(DataError) as err:
            read_corpus(path)
        assert (err.value.line, err.value.field) == (line, field) and words in str(err.value)
        assert str(path) in str(err.value)


def test_unknown_links_are_dropped_and_counted(tmp_path):
    path = write_jsonl(
        tmp_path / "c.jsonl",
        [
            {"id": "a", "text": "x", "links": ["b", "zz", "a", "b"]},
            {"id": "b", "text": "y", "links": ["a"]},
            {"id": "c", "text": "z"},
        ],
    )
    corpus = read_corpus(path)
    assert corpus.links == [[1], [0], []]
    assert corpus.stats == {
        "documents": 3,
        "links": 2,
        "links_dropped_unknown": 1,
        "links_dropped_self": 1,
        "links_dropped_repeat": 1,
    }


# ---------------------------------------------------------------- converters


def test_wikipedia_titles_follow_mediawiki_rules():
    assert normalize_title("new_York%20City#History") == "New York City"
    text, targets = strip_anchors('See <a href="river%20fenner">the river</a> and <a href="Adder_Hills">hills</a>.')
    assert text == "See the river and hills." and targets == ["River fenner", "Adder Hills"]


def test_wikipedia_json_and_doc_tag_outputs(tmp_path):
    json_dir = tmp_path / "wiki" / "AA"
    write_jsonl(
        json_dir / "wiki_00",
        [
            {
                "id": "10",
                "url": "u",
                "title": "Fenner river",
                "text": 'It flows to <a href="brannock">the city</a>. See <a href="Nowhere">x</a>.',
            },
            {
                "id": "11",
                "url": "u",
                "title": "Brannock",
                "text": 'A city on the <a href="fenner%20river">Fenner</a> and <a href="Old_name">old</a>.',
            },
        ],
    )
    (tmp_path / "wiki" / "AB").mkdir()
    (tmp_path / "wiki" / "AB" / "wiki_00").write_text(
        '<doc id="12" url="u" title="Adder Hills">\nAdder Hills\n\nHills near <a '
        'href="Brannock#South">Brannock</a>.\n</doc>\n',
        encoding="utf-8",
    )
    redirects = tmp_path / "redirects.tsv"
    redirects.write_text("Old name\tAdder Hills\n", encoding="utf-8")
    out = tmp_path / "wiki.jsonl"
    stats = convert_wikipedia([tmp_path / "wiki"], out, redirects)
    docs = {d["id"]: d for d in map(json.loads, out.read_text().splitlines())}
    assert docs["10"]["links"] == ["11"] and docs["10"]["text"] == "It flows to the city. See x."
    assert docs["11"]["links"] == ["10", "12"]  # the second through the redirect
    assert docs["12"]["links"] == ["11"] and docs["12"]["text"] == "Hills near Brannock."
    assert stats["links_dropped_red"] == 1 and stats["links_via_redirect"] == 1 and stats["documents"] == 3


def test_pubmed_citations_become_links(tmp_path):
    path = write_jsonl(
        tmp_path / "pubmed.jsonl",
        [
            {"pmid": "1", "title": "T1", "abstract": "First.", "cited_pmids": ["2", "999"]},
            {"pmid": 2, "abstract": "Second.", "references": [{"pmid_cited": "1"}, {"pmid_cited": ""}, {"pmid": "3"}]},
            {"pmid": "3", "abstract": "", "references": "1;2"},
            {"pmid": "1", "title": "T1", "abstract": "First, revised.", "references": "2; 3"},
        ],
    )
    out = tmp_path / "corpus.jsonl"
    stats = convert_pubmed([path], out, include_title=True)
    docs = {d["id"]: d for d in map(json.loads, out.read_text().splitlines())}
    assert sorted(docs) == ["1", "2"]  # 3 has no abstract; 1 keeps its last record
    assert docs["1"]["text"] == "T1\nFirst, revised." and docs["1"]["links"] == ["2"]
    assert docs["2"]["links"] == ["1"]
    assert stats["records_superseded"] == 1 and stats["records_without_abstract"] == 1
    with pytest.raises(DataError, match="pmid"):
        convert_pubmed([write_jsonl(tmp_path / "bad.jsonl", [{"pmid": "x1", "abstract": "a"}])], out)


# ---------------------------------------------------------------- build_pairs


@pytest.fixture(scope="module")
def small_build(tmp_path_factory):
    """A 40-document corpus (with a dangling link and an empty text), a tokenizer trained on it,
    and two builds with the same seed."""
    from transformers import BertTokenizerFast

    from linkbert.tools.tiny_bert import train_wordpiece_vocab

    root = tmp_path_factory.mktemp("build")
    rng = random.Random(0)
    words = "river hill town boat sheep wool honey storm bridge lamp".split()
    docs = []
    for i in range(40):
        text = " ".join(" ".join(rng.choices(words, k=rng.randint(4, 9))) + "." for _ in range(rng.randint(1, 5)))
        docs.append({"id": f"d{i}", "text": text, "links": [f"d{j}" for j in rng.sample(range(40), 3)] + ["missing"]})
    docs.append({"id": "empty", "text": "  ", "links": ["d0"]})
    corpus = write_jsonl(root / "corpus.jsonl", docs)
    vocab = train_wordpiece_vocab([d["text"] for d in docs], 100, lowercase=True)
    (root / "tok").mkdir()
    (root / "tok" / "vocab.txt").write_text("".join(t + "\n" for t in vocab))
    BertTokenizerFast(vocab=str(root / "tok" / "vocab.txt")).save_pretrained(root / "tok")
    outs = []
    for name in ("a", "b"):
        argv = flags(
            corpus=corpus,
            tokenizer=root / "tok",
            output_dir=root / name,
            max_seq_length="40",
            segment_length="12",
            seed="3",
            num_shards="3",
        )
        assert build_pairs(argv) == 0
        outs.append(root / name)
    return {"corpus": docs, "outs": outs, "tok": root / "tok"}


def read_rows(out):
    manifest = json.loads((out / "manifest.json").read_text())
    tables = [pa.ipc.open_file(pa.memory_map(str(out / s["file"]))).read_all() for s in manifest["shards"]]
    return manifest, pa.concat_tables(tables).to_pylist()


def test_build_writes_consistent_shards_and_manifest(small_build):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(small_build["tok"])
    manifest, rows = read_rows(small_build["outs"][0])
    links = {d["id"]: set(d["links"]) for d in small_build["corpus"]}
    assert manifest["num_pairs"] == len(rows) == sum(s["num_rows"] for s in manifest["shards"])
    assert [s["num_rows"] for s in manifest["shards"]] == [len(rows) // 3 + (i < len(rows) % 3) for i in range(3)]
    assert manifest["corpus_stats"]["documents_dropped_empty"] == 1
    assert manifest["corpus_stats"]["links_dropped_unknown"] == 40
    counts = {
        name: sum(r["pair_label"] == i for r in rows) for i, name in enumerate(("contiguous", "random", "linked"))
    }
    assert counts == manifest["pair_counts"]
    for row in rows:
        ids, types = row["input_ids"], row["token_type_ids"]
        assert len(ids) == len(types) <= 40 and ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
        first_sep = ids.index(tok.sep_token_id)
        assert types == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
        if row["pair_label"] == 2:
            assert row["doc_b"] in links[row["doc_a"]]
        elif row["pair_label"] == 0:
            split = row["seg_a"] == row["seg_b"] == 0  # the two parts of a one-segment document (shards.py)
            assert row["doc_b"] == row["doc_a"] and (split or row["seg_b"] == row["seg_a"] + 1)
        else:
            assert row["doc_b"] != row["doc_a"]
        assert "empty" not in (row["doc_a"], row["doc_b"])


def test_build_is_deterministic_for_a_seed(small_build):
    first, second = (read_rows(out)[1] for out in small_build["outs"])
    assert first == second
