"""Cut tokenized documents into the segments that LinkBERT pairs up (ACL §4).

The paper says a segment is "typically a sentence or a paragraph" and gives no length in tokens
(facts §7). Our scheme: split the text into sentences at `.`, `!` or `?` followed by white space
(or at line breaks), tokenize all sentences with the fast tokenizer in batches, then pack
consecutive sentences greedily into segments of at most `segment_length` tokens. A segment therefore
always ends at a sentence boundary unless one sentence alone is longer than `segment_length`, in
which case that sentence is cut into `segment_length`-token pieces. Over-splitting (abbreviations
such as "e.g. ") is harmless: packing glues the pieces back together.

The default `segment_length = (max_seq_length - 3) // 2` (254 tokens for 512) lets any two segments
fit in `[CLS] A [SEP] B [SEP]` without truncation, i.e. paragraph-sized segments on Wikipedia. A
small value (e.g. 32) gives roughly single-sentence segments; `pack=False` (build_pairs
--segment_unit sentence) makes every sentence a segment of its own, whatever its length.

build_pairs tokenizes a corpus chunk by chunk (one chunk per worker call): the token ids of a chunk
live in one flat numpy array with segment offsets, written to disk and memory-mapped afterwards, so
a corpus of billions of tokens is a few files rather than millions of Python lists.

A one-segment document also records its sentence boundaries: pairs.py splits such a segment at one
of them to form a contiguous pair (A = the sentences before the boundary, B = the rest).
"""

from __future__ import annotations

import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")


def split_sentences(text: str) -> list[str]:
    """Sentence-ish pieces of `text`; empty pieces removed."""
    return [piece for piece in _SENTENCE_END.split(text) if piece and not piece.isspace()]


def pack_sentences(sentences: Sequence[Sequence[int]], segment_length: int, pack: bool = True) -> list[list[int]]:
    """Greedily join consecutive tokenized sentences into segments of at most `segment_length`
    tokens (with pack=False every sentence is a segment of its own); a sentence longer than
    `segment_length` is cut into full-length pieces first."""
    segments: list[list[int]] = []
    current: list[int] = []
    for sentence in sentences:
        pieces = [list(sentence[i : i + segment_length]) for i in range(0, len(sentence), segment_length)]
        for piece in pieces:
            if current and (not pack or len(current) + len(piece) > segment_length):
                segments.append(current)
                current = []
            current.extend(piece)
    if current:
        segments.append(current)
    return segments


@dataclass
class ChunkSegments:
    """The segments of a run of documents: tokens[starts[s]:ends[s]] are the ids of segment s;
    counts[d] segments belong to document d, in reading order; split_points[split_offsets[d]:
    split_offsets[d + 1]] are the sentence boundaries (token positions) inside document d's only
    segment, empty unless d has exactly one segment holding two or more sentences."""

    tokens: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    counts: np.ndarray
    split_offsets: np.ndarray
    split_points: np.ndarray


def sentence_boundaries(sentence_lengths: Sequence[int]) -> list[int]:
    """Token positions between the sentences of a segment made of all of them (sentences without
    tokens give no boundary of their own)."""
    total = sum(sentence_lengths)
    return sorted({int(end) for end in np.cumsum(sentence_lengths[:-1], dtype=np.int64) if 0 < end < total})


def segment_documents(
    texts: Sequence[str], encode, segment_length: int, pack: bool = True, token_dtype=np.int32
) -> ChunkSegments:
    """Split `texts` into sentences, tokenize them all with one call of `encode` (a list of strings
    -> a list of token-id lists, no special tokens) and pack each document into segments. A
    document with no tokens gets no segment."""
    if segment_length < 1:
        raise ValueError(f"segment_length must be positive, got {segment_length}")
    sentences = [split_sentences(text) for text in texts]
    ids = encode([s for doc in sentences for s in doc])
    chunks, lengths, counts, split_counts, split_points = [], [], [], [], []
    cursor = 0
    for doc in sentences:
        doc_ids = ids[cursor : cursor + len(doc)]
        cursor += len(doc)
        segments = pack_sentences(doc_ids, segment_length, pack)
        points = sentence_boundaries([len(s) for s in doc_ids]) if len(segments) == 1 else []
        counts.append(len(segments))
        split_counts.append(len(points))
        split_points.extend(points)
        lengths.extend(len(segment) for segment in segments)
        chunks.extend(segments)
    ends = np.cumsum(np.asarray(lengths, dtype=np.int64))
    flat = [token for segment in chunks for token in segment]
    return ChunkSegments(
        np.asarray(flat, dtype=token_dtype),
        ends - np.asarray(lengths, dtype=np.int64),
        ends,
        np.asarray(counts, dtype=np.int32),
        np.concatenate([[0], np.cumsum(split_counts, dtype=np.int64)]).astype(np.int64),
        np.asarray(split_points, dtype=np.int32),
    )


def concat_segments(parts: Sequence[ChunkSegments], token_dtype=np.int32) -> ChunkSegments:
    """The segments of consecutive runs of documents as one ChunkSegments (offsets shifted)."""
    if not parts:
        none = np.zeros(0, np.int64)
        return ChunkSegments(np.zeros(0, token_dtype), none, none, none.astype(np.int32), np.zeros(1, np.int64), none)
    token_base = np.cumsum([0] + [len(p.tokens) for p in parts[:-1]])
    split_base = np.cumsum([0] + [len(p.split_points) for p in parts[:-1]])
    return ChunkSegments(
        np.concatenate([p.tokens for p in parts]),
        np.concatenate([p.starts + base for p, base in zip(parts, token_base, strict=True)]),
        np.concatenate([p.ends + base for p, base in zip(parts, token_base, strict=True)]),
        np.concatenate([p.counts for p in parts]),
        np.concatenate([[0]] + [p.split_offsets[1:] + base for p, base in zip(parts, split_base, strict=True)]),
        np.concatenate([p.split_points for p in parts]),
    )


def save_chunk(folder: Path, segments: ChunkSegments) -> None:
    """One .npy file per array of `segments` in `folder` (memory-mapped again by SegmentStore)."""
    folder.mkdir(parents=True, exist_ok=True)
    for item in fields(ChunkSegments):
        np.save(folder / f"{item.name}.npy", getattr(segments, item.name))


def load_chunk(folder: Path, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays save_chunk wrote (all, or `names`), memory-mapped read-only."""
    names = names or [item.name for item in fields(ChunkSegments)]
    return {name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in names}


class SegmentStore:
    """Random access to the tokens of any segment of the corpus, from the chunk folders that the
    tokenizing workers wrote. `chunk_first_doc[c]` is the first document of chunk c (then the
    number of documents), `doc_first_segment[d]` the corpus-wide index of d's first segment.

    Tokens are read with os.pread rather than memory-mapped: a shard writer visits segments all over
    the corpus, and mapped pages would count in its resident memory up to the size of every token
    file. At most `max_open` token files are kept open."""

    def __init__(
        self, folders: Sequence[Path], chunk_first_doc: np.ndarray, doc_first_segment: np.ndarray, max_open: int = 64
    ):
        self.folders, self.chunk_first_doc, self.doc_first_segment = list(folders), chunk_first_doc, doc_first_segment
        self.max_open = max_open
        self._bounds: dict[int, dict[str, np.ndarray]] = {}
        self._files: OrderedDict[int, tuple[int, int, np.dtype]] = OrderedDict()

    def _token_file(self, chunk: int) -> tuple[int, int, np.dtype]:
        """(descriptor, byte offset of the data, dtype) of chunk's tokens.npy, opened on demand."""
        if chunk in self._files:
            self._files.move_to_end(chunk)
            return self._files[chunk]
        path = self.folders[chunk] / "tokens.npy"
        mapped = np.load(path, mmap_mode="r")  # only to read the header: data offset and dtype
        entry = (os.open(path, os.O_RDONLY), mapped.offset, mapped.dtype)
        del mapped
        self._files[chunk] = entry
        if len(self._files) > self.max_open:
            os.close(self._files.popitem(last=False)[1][0])
        return entry

    def close(self) -> None:
        while self._files:
            os.close(self._files.popitem()[1][0])

    def segment(self, doc: int, index: int) -> np.ndarray:
        chunk = int(np.searchsorted(self.chunk_first_doc, doc, side="right")) - 1
        if chunk not in self._bounds:
            self._bounds[chunk] = load_chunk(self.folders[chunk], ("starts", "ends"))
        bounds = self._bounds[chunk]
        local = self.doc_first_segment[doc] - self.doc_first_segment[self.chunk_first_doc[chunk]] + index
        start, end = int(bounds["starts"][local]), int(bounds["ends"][local])
        descriptor, offset, dtype = self._token_file(chunk)
        data = os.pread(descriptor, (end - start) * dtype.itemsize, offset + start * dtype.itemsize)
        return np.frombuffer(data, dtype=dtype)


def truncate_pair(a: np.ndarray, b: np.ndarray, max_tokens: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Shorten the longer of A and B one token at a time until len(A) + len(B) <= max_tokens, as
    BERT's truncate_seq_pair does, but always from A's start and B's end: that keeps the A|B
    junction intact, which is where a contiguous pair shows that B continues A."""
    cut_a = cut_b = 0
    while len(a) - cut_a + len(b) - cut_b > max_tokens:
        if len(a) - cut_a > len(b) - cut_b:
            cut_a += 1
        else:
            cut_b += 1
    return a[cut_a:], b[: len(b) - cut_b], bool(cut_a or cut_b)
