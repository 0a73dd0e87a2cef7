"""Read and validate a linked corpus: the JSON-lines format described in `linkbert.pretrain`.

A corpus is a graph of documents (ACL §3): `read_corpus` returns the documents in file order with
their links turned into document indices. Links to ids that are not in the corpus (red links,
citations of papers outside the dump) and links of a document to itself are dropped and counted,
never silently kept, so the counts can be reported by build_pairs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from linkbert.errors import DataError
from linkbert.jsonl import read_jsonl


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


def drop_documents(corpus: Corpus, keep: list[bool]) -> tuple[Corpus, int]:
    """A corpus without the documents where keep[i] is False (e.g. texts with no tokens: they
    cannot give a segment), with links re-indexed and links into dropped documents removed.
    Returns the new corpus and how many links were removed."""
    new_index = {}
    for old, flag in enumerate(keep):
        if flag:
            new_index[old] = len(new_index)
    removed = 0
    links = []
    for old, targets in enumerate(corpus.links):
        if keep[old]:
            kept = [new_index[t] for t in targets if t in new_index]
            removed += len(targets) - len(kept)
            links.append(kept)
    select = [old for old in range(len(keep)) if keep[old]]
    stats = dict(corpus.stats, documents_dropped_empty=len(keep) - len(select), links_dropped_empty=removed)
    stats["links"] = corpus.stats.get("links", 0) - removed
    new = Corpus(
        [corpus.ids[i] for i in select],
        [corpus.texts[i] for i in select],
        links,
        [corpus.titles[i] for i in select],
        stats,
    )
    return new, removed
