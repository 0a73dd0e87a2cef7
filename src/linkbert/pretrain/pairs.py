"""Sample the (segment A, segment B, relation) pairs of LinkBERT pretraining (ACL §4).

This module is pure: it sees only how many segments each document has, the link graph as lists of
document indices, and a `random.Random`. It knows nothing of files, tokens or tokenizers, so its
behaviour can be tested exactly (tests/test_pretrain_pairs.py).

For every anchor segment X_A (each segment of each document, `dupe_factor` times) the relation of
X_B to X_A is drawn uniformly among the relations *feasible* for that anchor:

- contiguous (label 0): X_B is the next segment of the same document. Feasible when the document
  has at least two segments; for the document's last segment the pair becomes (previous, last), so
  a document's final segment still takes part in contiguous pairs.
- random (label 1): X_B is a segment of another document drawn uniformly. Feasible when the corpus
  has at least two documents.
- linked (label 2): X_B is a segment of a document that X_A's document links to. The target is drawn
  with probability proportional to 1 / in-degree(target) (the "diversity" sampling of ACL §4, which
  keeps hub pages from dominating; Table 5 shows it is worth about a point), or uniformly among the
  links with `diversity=False`. Feasible when the document has at least one link.

With all three feasible this is the paper's 1/3 each. A document without links falls back to
contiguous/random 50/50, which is exactly BERT's next-sentence mix and what the paper uses for
BookCorpus, so a corpus with no links at all (or `use_links=False`, the ablation) gets 50/50.
A document with a single segment and no links can only form random pairs. Within X_B's document
the segment is drawn uniformly.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

CONTIGUOUS, RANDOM, LINKED = 0, 1, 2
PAIR_TYPES = ("contiguous", "random", "linked")


@dataclass(frozen=True)
class Pair:
    """Segment `seg_a` of document `doc_a` followed by segment `seg_b` of document `doc_b`; `label`
    is the document relation (CONTIGUOUS, RANDOM or LINKED). Indices, not ids."""

    doc_a: int
    seg_a: int
    doc_b: int
    seg_b: int
    label: int


def clean_links(links: Sequence[Sequence[int]], num_docs: int) -> list[list[int]]:
    """Out-links per document with self-links and repeats removed (first occurrence order kept):
    a page linking to itself says nothing about a relation between two documents, and a page that
    links to the same target five times should not make it five times likelier."""
    cleaned = []
    for source, targets in enumerate(links):
        seen: dict[int, None] = {}
        for target in targets:
            if not 0 <= target < num_docs:
                raise ValueError(f"document {source} links to index {target}, outside 0..{num_docs - 1}")
            if target != source:
                seen.setdefault(target, None)
        cleaned.append(list(seen))
    return cleaned


def in_degrees(links: Sequence[Sequence[int]], num_docs: int) -> list[int]:
    """How many documents link to each document (links already cleaned)."""
    degree = [0] * num_docs
    for targets in links:
        for target in targets:
            degree[target] += 1
    return degree


def link_weights(targets: Sequence[int], degree: Sequence[int], diversity: bool) -> list[float] | None:
    """Sampling weights over one document's link targets: 1/in-degree (ACL §4) or uniform (None)."""
    if not diversity:
        return None
    return [1.0 / degree[target] for target in targets]


def feasible_types(num_segments: int, num_docs: int, has_links: bool) -> list[int]:
    """The relations an anchor in a document with `num_segments` segments can take part in."""
    types = []
    if num_segments >= 2:
        types.append(CONTIGUOUS)
    if num_docs >= 2:
        types.append(RANDOM)
    if has_links:
        types.append(LINKED)
    return types


def sample_pairs(
    num_segments: Sequence[int],
    links: Sequence[Sequence[int]],
    rng: random.Random,
    *,
    diversity: bool = True,
    use_links: bool = True,
    dupe_factor: int = 1,
) -> list[Pair]:
    """One pair per anchor segment per pass, in corpus order (shuffle afterwards if needed).

    num_segments[d] is the number of segments of document d (each at least 1); links[d] lists the
    indices of the documents d links to. Anchors with no feasible relation (a corpus holding a single
    one-segment document) are skipped."""
    num_docs = len(num_segments)
    if len(links) != num_docs:
        raise ValueError(f"{len(links)} link lists for {num_docs} documents")
    if any(count < 1 for count in num_segments):
        raise ValueError("every document needs at least one segment; drop empty documents first")
    links = clean_links(links, num_docs) if use_links else [[] for _ in range(num_docs)]
    degree = in_degrees(links, num_docs)
    pairs = []
    for _ in range(dupe_factor):
        for doc in range(num_docs):
            weights = link_weights(links[doc], degree, diversity)
            types = feasible_types(num_segments[doc], num_docs, bool(links[doc]))
            for seg in range(num_segments[doc]):
                if types:
                    label = types[rng.randrange(len(types))]
                    pairs.append(_pair(doc, seg, label, num_segments, links[doc], weights, rng))
    return pairs


def _pair(doc, seg, label, num_segments, targets, weights, rng: random.Random) -> Pair:
    if label == CONTIGUOUS:
        # The last segment has no successor: pair it with its predecessor instead (see module doc).
        first = seg if seg + 1 < num_segments[doc] else seg - 1
        return Pair(doc, first, doc, first + 1, CONTIGUOUS)
    if label == RANDOM:
        other = rng.randrange(len(num_segments) - 1)
        other += other >= doc  # uniform over the documents other than `doc`
        return Pair(doc, seg, other, rng.randrange(num_segments[other]), RANDOM)
    target = targets[0] if len(targets) == 1 else rng.choices(targets, weights=weights)[0]
    return Pair(doc, seg, target, rng.randrange(num_segments[target]), LINKED)


def count_types(pairs: Sequence[Pair]) -> dict[str, int]:
    """{"contiguous": n0, "random": n1, "linked": n2}."""
    counts = dict.fromkeys(PAIR_TYPES, 0)
    for pair in pairs:
        counts[PAIR_TYPES[pair.label]] += 1
    return counts
