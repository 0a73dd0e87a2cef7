"""Sample the (segment A, segment B, relation) pairs of LinkBERT pretraining (ACL §4).

This module is pure: it sees how many segments each document has, the link graph as numpy arrays
(CSR: `link_offsets`, `link_targets`), the sentence boundaries inside one-segment documents and a
seed. It knows nothing of files, tokens or tokenizers, so its behaviour can be tested exactly
(tests/test_pretrain_pairs.py).

For every anchor segment X_A (each segment of each document, once per pass; `dupe_factor` passes)
the relation of X_B to X_A is drawn uniformly among the relations *feasible* for that anchor:

- contiguous (label 0): X_B is the next segment of the same document; for the document's last
  segment the pair becomes (previous, last), so a final segment still takes part. A document with
  a single segment that holds at least two sentences is split instead: A is the segment up to a
  sentence boundary drawn uniformly among its boundaries, B the rest (seg_a == seg_b == 0 and
  `split` > 0 tokens into A; see shards.py). This is how Google BERT's create_pretraining_data forms
  A and B from one chunk, and the paper supports it: it calls a segment "typically a sentence or a
  paragraph" (ACL §4), so two sentences of one paragraph are a contiguous pair of segments. Without
  the split, a corpus of short documents (one segment each) had no contiguous pairs at all.
- random (label 1): X_B is a segment of another document drawn uniformly. Feasible when the corpus
  has at least two documents.
- linked (label 2): X_B is a segment of a document that X_A's document links to. The target is drawn
  with probability proportional to 1 / in-degree(target) (the "diversity" sampling of ACL §4, which
  keeps hub pages from dominating; Table 5 shows it is worth about a point), or uniformly among the
  links with `diversity=False`. Feasible when the document has at least one link.

With all three feasible this is the paper's 1/3 each. A document without links falls back to
contiguous/random 50/50, which is exactly BERT's next-sentence mix and what the paper uses for
BookCorpus, so a corpus with no links at all (or `use_links=False`, the ablation) gets 50/50. A
one-sentence document without links can only form random pairs. Within X_B's document the
segment is drawn uniformly.

Randomness: the draws of anchor document d in pass p come from their own generator,
`numpy.random.default_rng([seed, p, d])`. The pairs therefore do not depend on how documents are
split between worker processes or in which order those run, and every pass draws a fresh relation
and partner for every anchor (run_pretrain_linkbert-base.sh works out the number of passes that the
paper's schedule makes over the data).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONTIGUOUS, RANDOM, LINKED = 0, 1, 2
PAIR_TYPES = ("contiguous", "random", "linked")

# One sampled pair. `order` is the pair's position in the corpus-wide sequence (pass, document,
# segment): it decides the shard and the order inside the shard, whatever the chunking.
PAIR_DTYPE = np.dtype(
    [
        ("order", np.int64),
        ("doc_a", np.int32),
        ("seg_a", np.int32),
        ("doc_b", np.int32),
        ("seg_b", np.int32),
        ("label", np.int8),
        ("split", np.int32),
    ]
)


@dataclass(frozen=True)
class Pair:
    """Segment `seg_a` of document `doc_a` followed by segment `seg_b` of document `doc_b`; `label`
    is the document relation (CONTIGUOUS, RANDOM or LINKED). Indices, not ids. `split` > 0 marks a
    one-segment document cut into A = its first `split` tokens and B = the rest (-1 otherwise)."""

    doc_a: int
    seg_a: int
    doc_b: int
    seg_b: int
    label: int
    split: int = -1


@dataclass
class LinkGraph:
    """Everything the sampler reads, as flat arrays (memory-mappable, shared by worker processes).

    num_segments[d]: segments of document d (0 for a document without tokens: never an anchor nor a
    partner). link_targets[link_offsets[d]:link_offsets[d + 1]]: documents d links to (no
    self-links, no repeats, no target without segments). split_points[split_offsets[d]:
    split_offsets[d + 1]]: token positions of the sentence boundaries inside d's only segment."""

    num_segments: np.ndarray
    link_offsets: np.ndarray
    link_targets: np.ndarray
    split_offsets: np.ndarray
    split_points: np.ndarray

    def __post_init__(self):
        self.in_degree = np.bincount(self.link_targets, minlength=len(self.num_segments))
        self.nonempty = np.flatnonzero(self.num_segments > 0)

    def feasible_types(self, doc: int) -> list[int]:
        """The relations an anchor of document `doc` can take part in."""
        types = []
        if self.num_segments[doc] >= 2 or self.split_offsets[doc + 1] > self.split_offsets[doc]:
            types.append(CONTIGUOUS)
        if len(self.nonempty) >= 2:
            types.append(RANDOM)
        if self.link_offsets[doc + 1] > self.link_offsets[doc]:
            types.append(LINKED)
        return types

    def anchors_per_pass(self) -> np.ndarray:
        """Pairs each document anchors in one pass: one per segment, or none when no relation is
        feasible (a lone document that cannot be split)."""
        contiguous = (self.num_segments >= 2) | (np.diff(self.split_offsets) > 0)
        any_type = contiguous | (len(self.nonempty) >= 2) | (np.diff(self.link_offsets) > 0)
        return np.where(any_type, self.num_segments, 0).astype(np.int64)


def link_graph_from_lists(
    num_segments: Sequence[int],
    links: Sequence[Sequence[int]],
    split_points: Sequence[Sequence[int]] | None = None,
    use_links: bool = True,
) -> LinkGraph:
    """A LinkGraph from Python lists (tests, small corpora). Self-links and repeats are dropped: a
    page linking to itself says nothing about a relation between two documents, and a page that
    links to the same target five times should not make it five times likelier."""
    num_docs = len(num_segments)
    if len(links) != num_docs:
        raise ValueError(f"{len(links)} link lists for {num_docs} documents")
    if any(count < 1 for count in num_segments):
        raise ValueError("every document needs at least one segment; drop empty documents first")
    cleaned = []
    for source, targets in enumerate(links if use_links else [[] for _ in range(num_docs)]):
        for target in targets:
            if not 0 <= target < num_docs:
                raise ValueError(f"document {source} links to index {target}, outside 0..{num_docs - 1}")
        cleaned.append(sorted({t for t in targets if t != source}))
    splits = split_points if split_points is not None else [[] for _ in range(num_docs)]
    return LinkGraph(
        np.asarray(num_segments, dtype=np.int32),
        offsets_of([len(t) for t in cleaned]),
        np.asarray([t for targets in cleaned for t in targets], dtype=np.int32),
        offsets_of([len(s) for s in splits]),
        np.asarray([p for points in splits for p in points], dtype=np.int32),
    )


def offsets_of(counts) -> np.ndarray:
    """CSR offsets [0, c0, c0 + c1, ...]."""
    return np.concatenate([[0], np.cumsum(np.asarray(counts, dtype=np.int64))]).astype(np.int64)


def anchor_pairs(graph: LinkGraph, doc: int, pass_index: int, seed: int, diversity: bool = True) -> np.ndarray:
    """The pairs anchored in document `doc` in pass `pass_index`, one per segment, as PAIR_DTYPE rows
    (`order` left 0). Draws come from default_rng([seed, pass_index, doc]) only."""
    types = graph.feasible_types(doc)
    count = int(graph.num_segments[doc])
    if not types or count == 0:
        return np.zeros(0, PAIR_DTYPE)
    rng = np.random.default_rng([seed, pass_index, doc])
    pairs = np.zeros(count, PAIR_DTYPE)
    pairs["doc_a"], pairs["seg_a"], pairs["doc_b"], pairs["split"] = doc, np.arange(count), doc, -1
    pairs["label"] = np.asarray(types, dtype=np.int8)[rng.integers(len(types), size=count)]
    _contiguous(graph, doc, rng, pairs)
    _random(graph, doc, rng, pairs)
    _linked(graph, doc, rng, pairs, diversity)
    return pairs


def _contiguous(graph: LinkGraph, doc: int, rng: np.random.Generator, pairs: np.ndarray) -> None:
    chosen = pairs["label"] == CONTIGUOUS
    if not chosen.any():
        return
    count = int(graph.num_segments[doc])
    if count >= 2:
        # The last segment has no successor: pair it with its predecessor instead (module doc).
        seg = pairs["seg_a"][chosen]
        first = np.where(seg + 1 < count, seg, seg - 1)
        pairs["seg_a"][chosen], pairs["seg_b"][chosen] = first, first + 1
        return
    points = graph.split_points[graph.split_offsets[doc] : graph.split_offsets[doc + 1]]
    pairs["split"][chosen] = points[rng.integers(len(points), size=int(chosen.sum()))]


def _random(graph: LinkGraph, doc: int, rng: np.random.Generator, pairs: np.ndarray) -> None:
    chosen = pairs["label"] == RANDOM
    if not chosen.any():
        return
    # uniform over the documents with segments other than `doc`
    rank = np.searchsorted(graph.nonempty, doc)
    picked = rng.integers(len(graph.nonempty) - 1, size=int(chosen.sum()))
    others = graph.nonempty[picked + (picked >= rank)]
    pairs["doc_b"][chosen] = others
    pairs["seg_b"][chosen] = rng.integers(graph.num_segments[others])


def _linked(graph: LinkGraph, doc: int, rng: np.random.Generator, pairs: np.ndarray, diversity: bool) -> None:
    chosen = pairs["label"] == LINKED
    if not chosen.any():
        return
    targets = graph.link_targets[graph.link_offsets[doc] : graph.link_offsets[doc + 1]]
    weights = 1.0 / graph.in_degree[targets] if diversity else np.ones(len(targets))
    cumulative = np.cumsum(weights)
    draws = rng.random(int(chosen.sum())) * cumulative[-1]
    picked = np.minimum(np.searchsorted(cumulative, draws, side="right"), len(targets) - 1)
    pairs["doc_b"][chosen] = targets[picked]
    pairs["seg_b"][chosen] = rng.integers(graph.num_segments[targets[picked]])


def sample_range(
    graph: LinkGraph, docs: range, seed: int, *, dupe_factor: int = 1, diversity: bool = True
) -> np.ndarray:
    """The pairs anchored in documents `docs` for every pass, each with its corpus-wide `order`
    (pass-major, then document, then segment)."""
    per_pass = graph.anchors_per_pass()
    first = offsets_of(per_pass)
    total = int(first[-1])
    parts = []
    for pass_index in range(dupe_factor):
        for doc in docs:
            pairs = anchor_pairs(graph, doc, pass_index, seed, diversity)
            if len(pairs) != per_pass[doc]:  # feasible_types and anchors_per_pass must agree
                raise RuntimeError(f"document {doc}: {len(pairs)} pairs sampled, {per_pass[doc]} expected")
            pairs["order"] = pass_index * total + first[doc] + np.arange(len(pairs))
            parts.append(pairs)
    return np.concatenate(parts) if parts else np.zeros(0, PAIR_DTYPE)


def sample_pairs(
    num_segments: Sequence[int],
    links: Sequence[Sequence[int]],
    seed: int,
    *,
    diversity: bool = True,
    use_links: bool = True,
    dupe_factor: int = 1,
    split_points: Sequence[Sequence[int]] | None = None,
) -> list[Pair]:
    """One pair per anchor segment per pass, pass by pass, in corpus order.

    num_segments[d] is the number of segments of document d (each at least 1); links[d] lists the
    indices of the documents d links to; split_points[d] the sentence boundaries inside a
    one-segment document. Anchors with no feasible relation are skipped."""
    graph = link_graph_from_lists(num_segments, links, split_points, use_links)
    rows = sample_range(graph, range(len(num_segments)), seed, dupe_factor=dupe_factor, diversity=diversity)
    return [
        Pair(int(r["doc_a"]), int(r["seg_a"]), int(r["doc_b"]), int(r["seg_b"]), int(r["label"]), int(r["split"]))
        for r in rows
    ]


def count_types(labels) -> dict[str, int]:
    """{"contiguous": n0, "random": n1, "linked": n2} of a list of Pairs or an array of labels."""
    if len(labels) and isinstance(labels[0], Pair):
        labels = [pair.label for pair in labels]
    counts = np.bincount(np.asarray(labels, dtype=np.int64), minlength=len(PAIR_TYPES))
    return {name: int(counts[i]) for i, name in enumerate(PAIR_TYPES)}
