"""Read and validate a linked corpus: the JSON-lines format described in `linkbert.pretrain`.

A corpus is a graph of documents (ACL §3): `read_corpus` returns the documents in file order with
their links turned into document indices. Links to ids that are not in the corpus (red links,
citations of papers outside the dump) and links of a document to itself are dropped and counted,
never silently kept, so the counts can be reported by build_pairs.

build_pairs never holds the corpus as Python objects. It cuts the file into chunks of a fixed number
of lines (`chunk_offsets`), and each worker process reads its chunk (`read_chunk`) and keeps only
numpy arrays: the ids' 64-bit hashes (`id_hashes`, blake2b: the same in every process, unlike
Python's salted hash()) and the hashes of their link targets. `LinkResolver` then turns those into
the link graph's CSR arrays chunk by chunk, and finds duplicate ids, with memory in the arrays only.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from linkbert.errors import DataError
from linkbert.jsonl import parse_json, read_jsonl

BLOCK_BYTES = 1 << 24


@dataclass
class Corpus:
    """Documents in file order; links[i] holds the indices of the documents i links to."""

    ids: list[str]
    texts: list[str]
    links: list[list[int]]
    titles: list[str | None]
    stats: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


def check_document(path: Path, line: int, record: dict) -> tuple[str, str, list[str], str | None]:
    """(id, text, link ids, title) of one record, or DataError naming the file, line and field."""
    doc_id = record.get("id")
    if not isinstance(doc_id, str) or not doc_id:
        raise DataError(path, f"expected a non-empty string document id, got {doc_id!r}", line=line, field="id")
    text = record.get("text")
    if not isinstance(text, str):
        what = "missing" if text is None else f"a {type(text).__name__}"
        raise DataError(path, f"expected the document text as a string, got {what}", line=line, field="text")
    links = record.get("links", [])
    if not isinstance(links, list):
        raise DataError(path, f"expected a list of document ids, got {type(links).__name__}", line=line, field="links")
    for target in links:
        if not isinstance(target, str):
            raise DataError(path, f"expected document ids as strings, got {target!r}", line=line, field="links")
    title = record.get("title")
    if title is not None and not isinstance(title, str):
        raise DataError(path, f"expected a string, got {type(title).__name__}", line=line, field="title")
    return doc_id, text, links, title


def read_corpus(path: str | os.PathLike) -> Corpus:
    """Validate every record, then resolve link ids to indices (a link may point forward in the
    file, so resolution waits until all ids are known)."""
    path = Path(path)
    ids, texts, titles, raw_links = [], [], [], []
    first_line: dict[str, int] = {}
    for line, record in read_jsonl(path):
        doc_id, text, links, title = check_document(path, line, record)
        if doc_id in first_line:
            raise DataError(
                path, f"duplicate document id {doc_id!r} (first on line {first_line[doc_id]})", line=line, field="id"
            )
        first_line[doc_id] = line
        ids.append(doc_id)
        texts.append(text)
        titles.append(title)
        raw_links.append(links)
    if not ids:
        raise DataError(path, "no documents: the file is empty")
    links, stats = resolve_links(ids, raw_links)
    stats["documents"] = len(ids)
    return Corpus(ids, texts, links, titles, stats)


def resolve_links(ids: list[str], raw_links: list[list[str]]) -> tuple[list[list[int]], dict[str, int]]:
    """Link ids -> indices. Unknown targets and self-links are dropped, repeats kept once."""
    index = {doc_id: i for i, doc_id in enumerate(ids)}
    stats = {"links": 0, "links_dropped_unknown": 0, "links_dropped_self": 0, "links_dropped_repeat": 0}
    resolved = []
    for source, targets in enumerate(raw_links):
        kept: dict[int, None] = {}
        for target_id in targets:
            target = index.get(target_id)
            if target is None:
                stats["links_dropped_unknown"] += 1
            elif target == source:
                stats["links_dropped_self"] += 1
            elif target in kept:
                stats["links_dropped_repeat"] += 1
            else:
                kept[target] = None
        resolved.append(list(kept))
        stats["links"] += len(kept)
    return resolved, stats


def chunk_offsets(path: str | os.PathLike, chunk_lines: int) -> list[int]:
    """Byte offsets at which each run of `chunk_lines` lines of `path` starts, then the file size:
    chunk i is bytes offsets[i]:offsets[i + 1], lines i * chunk_lines + 1 onwards."""
    path = Path(path)
    if not path.is_file():
        raise DataError(path, "file not found")
    offsets, lines, position = [0], 0, 0
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK_BYTES):
            newlines = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == ord("\n"))
            line_numbers = np.arange(lines + 1, lines + 1 + len(newlines))
            offsets.extend((position + newlines[line_numbers % chunk_lines == 0] + 1).tolist())
            lines += len(newlines)
            position += len(block)
    if offsets[-1] != position:
        offsets.append(position)
    return offsets


def read_chunk(path: str | os.PathLike, start: int, stop: int, first_line: int) -> Iterator[tuple[int, dict]]:
    """(line number, record) for the non-blank lines in bytes start:stop of a JSON-lines file, with
    the same errors as linkbert.jsonl.read_jsonl (not UTF-8, not JSON) naming the line. One line is
    in memory at a time."""
    with open(path, "rb") as handle:
        handle.seek(start)
        number = first_line
        while handle.tell() < stop:
            raw = handle.readline()
            if number == 1:
                raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark is not part of the first record
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                message = f"not UTF-8 text (byte 0x{raw[err.start]:02x} at column {err.start + 1})"
                raise DataError(path, message, line=number) from None
            if text.strip():
                yield number, parse_json(path, text, line=number)
            number += 1


def id_hashes(ids: Sequence[str]) -> np.ndarray:
    """64-bit blake2b hashes of document ids (two different ids of a 10M-document corpus share one
    with probability ~3e-6; LinkResolver checks the strings whenever two hashes are equal)."""
    digests = b"".join(hashlib.blake2b(i.encode("utf-8"), digest_size=8).digest() for i in ids)
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


class LinkResolver:
    """Link-target hashes -> document indices, for a corpus whose ids' hashes are `hashes`
    (document order); `line_of[d]` is document d's line in `path`, `id_of(d)` its id string."""

    def __init__(self, path, hashes: np.ndarray, line_of: np.ndarray, id_of):
        self.path, self.line_of, self.id_of = path, line_of, id_of
        self.order = np.argsort(hashes, kind="stable")
        self.sorted = hashes[self.order]
        self.stats = {"links": 0, "links_dropped_unknown": 0, "links_dropped_self": 0, "links_dropped_repeat": 0}
        self.stats["links_dropped_empty"] = 0

    def check_unique(self) -> None:
        """DataError at the first line whose id already appeared (as read_corpus reports it)."""
        same = np.flatnonzero(self.sorted[1:] == self.sorted[:-1]) + 1
        if not len(same):
            return
        later = self.order[same]
        first = self.order[np.searchsorted(self.sorted, self.sorted[same])]
        worst = int(np.argmin(later))
        dup, orig = int(later[worst]), int(first[worst])
        if self.id_of(dup) != self.id_of(orig):
            raise DataError(
                self.path,
                f"ids {self.id_of(dup)!r} and {self.id_of(orig)!r} (line {self.line_of[orig]}) share a 64-bit hash: "
                "rename one",
                line=int(self.line_of[dup]),
                field="id",
            )
        message = f"duplicate document id {self.id_of(dup)!r} (first on line {self.line_of[orig]})"
        raise DataError(self.path, message, line=int(self.line_of[dup]), field="id")

    def resolve(
        self, first_doc: int, link_counts: np.ndarray, link_hashes: np.ndarray, num_segments: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Out-link counts and targets (sorted per source) of documents first_doc.. whose links are
        given as hashes. Unknown targets, self-links, repeats and links from or to a document
        without tokens (num_segments 0) are dropped and counted in self.stats."""
        count = len(link_counts)
        sources = np.repeat(np.arange(first_doc, first_doc + count, dtype=np.int64), link_counts)
        where = np.minimum(np.searchsorted(self.sorted, link_hashes), len(self.sorted) - 1)
        known = self.sorted[where] == link_hashes
        targets = self.order[where].astype(np.int64)
        self_link = known & (targets == sources)
        self.stats["links_dropped_unknown"] += int((~known).sum())
        self.stats["links_dropped_self"] += int(self_link.sum())
        kept = known & ~self_link
        keys = np.unique(sources[kept] * len(self.sorted) + targets[kept])
        self.stats["links_dropped_repeat"] += int(kept.sum()) - len(keys)
        sources, targets = np.divmod(keys, len(self.sorted))
        usable = (num_segments[sources] > 0) & (num_segments[targets] > 0)
        self.stats["links_dropped_empty"] += int((~usable).sum())
        self.stats["links"] += int(usable.sum())
        counts = np.bincount(sources[usable] - first_doc, minlength=count)
        return counts.astype(np.int64), targets[usable].astype(np.int32)
