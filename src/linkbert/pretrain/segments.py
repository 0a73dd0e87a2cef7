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

All token ids live in one flat numpy array with segment offsets, so a corpus of billions of tokens
is a few arrays rather than millions of Python lists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")


@dataclass
class Segments:
    """tokens[starts[s]:ends[s]] are the ids of segment s; the segments of document d are
    doc_offsets[d] .. doc_offsets[d + 1] - 1, in reading order."""

    tokens: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    doc_offsets: np.ndarray

    def num_segments(self) -> list[int]:
        return np.diff(self.doc_offsets).tolist()

    def segment(self, doc: int, index: int) -> np.ndarray:
        s = self.doc_offsets[doc] + index
        return self.tokens[self.starts[s] : self.ends[s]]

    def lengths(self) -> np.ndarray:
        return self.ends - self.starts


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


def segment_corpus(
    texts: Sequence[str], tokenizer, segment_length: int, batch_size: int = 1000, pack: bool = True
) -> Segments:
    """Tokenize `texts` (batches of `batch_size` documents, all their sentences in one fast-tokenizer
    call) and pack each document into segments. A document with no tokens gets no segment."""
    if segment_length < 1:
        raise ValueError(f"segment_length must be positive, got {segment_length}")
    chunks, starts, ends, counts = [], [], [], []
    position = 0
    for first in range(0, len(texts), batch_size):
        batch = texts[first : first + batch_size]
        sentences = [split_sentences(text) for text in batch]
        flat = [s for doc in sentences for s in doc]
        ids = tokenizer(flat, add_special_tokens=False)["input_ids"] if flat else []
        cursor = 0
        for doc in sentences:
            segments = pack_sentences(ids[cursor : cursor + len(doc)], segment_length, pack)
            cursor += len(doc)
            counts.append(len(segments))
            for segment in segments:
                starts.append(position)
                position += len(segment)
                ends.append(position)
                chunks.append(np.asarray(segment, dtype=np.int32))
    tokens = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int32)
    doc_offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)]).astype(np.int64)
    return Segments(tokens, np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64), doc_offsets)


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
