"""Turn Wikipedia and PubMed dumps into the linked-corpus format (see linkbert.pretrain).

The paper's two graphs (ACL §3): Wikipedia hyperlinks, extracted with WikiExtractor, and PubMed
citations, extracted with pubmed_parser. Both converters read their inputs twice: the first pass
learns which documents exist, the second writes each document with only the links that resolve to
one of them (red links and citations of papers outside the dump are dropped and counted). Two passes
instead of holding the dump in memory: English Wikipedia is ~20 GB of text.

Wikipedia input: the output of `wikiextractor --links` (optionally `--json`), files or directories
(AA/wiki_00, ...). With --json every line is {"id", "url", "title", "text"}; without, documents are
`<doc id=".." url=".." title="..">` ... `</doc>` blocks whose first line repeats the title. Links in
the text look like `<a href="Target%20title">anchor text</a>`: the anchor markup is removed (the
anchor text stays) and the target is resolved as MediaWiki does: URL-unquoted, underscores are
spaces, any `#section` ignored, first letter case-insensitive. WikiExtractor drops redirect pages,
so links through redirects would be lost; --redirects takes a TSV of `source<TAB>target` titles to
follow them (one hop).

PubMed input: JSON lines as written from pubmed_parser's MEDLINE / OA parsers: `pmid`, `abstract`,
optional `title`, and the cited PMIDs as `cited_pmids` or `references` (a list of PMIDs, a list of
{"pmid_cited": ..} / {"pmid": ..} records, or one string separated by ';', ',' or spaces). MEDLINE
update files repeat PMIDs: the last record of a PMID wins. Records with an empty abstract are not
documents.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import unquote

from linkbert.errors import DataError
from linkbert.jsonl import ENCODING, atomic_output, read_jsonl, utf8_errors

_ANCHOR = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.S)
_DOC_START = re.compile(r'^<doc id="(.*?)" url="(.*?)" title="(.*)">\s*$')
_SPACES = re.compile(r"\s+")
_PMID_SEPARATORS = re.compile(r"[;,\s]+")


# ---------------------------------------------------------------- Wikipedia


def normalize_title(title: str) -> str:
    """A title as MediaWiki compares it: 'new_York%20city#History' -> 'New York city'."""
    title = unquote(html.unescape(title)).split("#", 1)[0].replace("_", " ")
    title = _SPACES.sub(" ", title).strip()
    return title[:1].upper() + title[1:]


def strip_anchors(text: str) -> tuple[str, list[str]]:
    """(text with every anchor replaced by its anchor text, normalized link targets in order)."""
    targets = []

    def keep_anchor_text(match: re.Match) -> str:
        targets.append(normalize_title(match.group(1)))
        return match.group(2)

    return _ANCHOR.sub(keep_anchor_text, text), targets


def input_files(inputs: Iterable[str | os.PathLike]) -> list[Path]:
    """Files named directly, plus every file under named directories (sorted, hidden ones skipped)."""
    files = []
    for item in map(Path, inputs):
        if item.is_dir():
            files += sorted(
                p
                for p in item.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(item).parts)
            )
        elif item.is_file():
            files.append(item)
        else:
            raise DataError(item, "input not found")
    return files


def read_wikiextractor(path: Path) -> Iterator[tuple[int, dict]]:
    """(line, {"id", "title", "text"}) per article, from --json output or <doc> blocks."""
    with utf8_errors(path), open(path, encoding=ENCODING) as handle:
        first = handle.read(1)
    if first == "{":
        for line, record in read_jsonl(path):
            for field in ("id", "title", "text"):
                if not isinstance(record.get(field), str):
                    raise DataError(path, "expected a string (WikiExtractor --json output)", line=line, field=field)
            yield line, record
        return
    yield from read_doc_tags(path)


def read_doc_tags(path: Path) -> Iterator[tuple[int, dict]]:
    current, start, body = None, 0, []
    with utf8_errors(path), open(path, encoding=ENCODING) as handle:
        for number, line in enumerate(handle, start=1):
            match = _DOC_START.match(line)
            if match:
                if current is not None:
                    raise DataError(path, "<doc> opened before the previous one was closed", line=number)
                current, start, body = {"id": match.group(1), "title": match.group(3)}, number, []
            elif line.strip() == "</doc>":
                if current is None:
                    raise DataError(path, "</doc> without an opening <doc>", line=number)
                if body and body[0].strip() == current["title"]:
                    body = body[1:]  # WikiExtractor repeats the title as the first line
                yield start, dict(current, text="".join(body).strip())
                current = None
            elif current is not None:
                body.append(line)
    if current is not None:
        raise DataError(path, "<doc> never closed", line=start)


def read_redirects(path: str | os.PathLike | None) -> dict[str, str]:
    redirects = {}
    if path is None:
        return redirects
    with utf8_errors(path), open(path, encoding=ENCODING) as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2:
                raise DataError(path, f"expected 'source<TAB>target', got {len(parts)} fields", line=number)
            redirects[normalize_title(parts[0])] = normalize_title(parts[1])
    return redirects


def wikipedia_title_index(files: list[Path]) -> dict[str, str]:
    """Pass 1: normalized title -> article id; a repeated id is an error."""
    titles, seen = {}, {}
    for path in files:
        for line, record in read_wikiextractor(path):
            if record["id"] in seen:
                raise DataError(
                    path,
                    f"duplicate article id {record['id']!r} (first in {seen[record['id']]})",
                    line=line,
                    field="id",
                )
            seen[record["id"]] = f"{path}:{line}"
            titles.setdefault(normalize_title(record["title"]), record["id"])
    return titles


def convert_wikipedia(
    inputs: Iterable[str | os.PathLike], output: str | os.PathLike, redirects: str | os.PathLike | None = None
) -> dict[str, int]:
    """Write the corpus; return counts (documents, links kept, red links dropped, ...)."""
    files = input_files(inputs)
    titles = wikipedia_title_index(files)
    redirect = read_redirects(redirects)
    stats = {"documents": 0, "links": 0, "links_dropped_red": 0, "links_via_redirect": 0, "links_dropped_repeat": 0}
    with atomic_output(output) as handle:
        for path in files:
            for _, record in read_wikiextractor(path):
                text, targets = strip_anchors(record["text"])
                links = resolve_titles(targets, titles, redirect, stats)
                handle.write(
                    json.dumps(
                        {"id": record["id"], "title": record["title"], "text": text, "links": links}, ensure_ascii=False
                    )
                    + "\n"
                )
                stats["documents"] += 1
    return stats


def resolve_titles(
    targets: list[str], titles: dict[str, str], redirect: dict[str, str], stats: dict[str, int]
) -> list[str]:
    links: dict[str, None] = {}
    for target in targets:
        doc_id = titles.get(target)
        if doc_id is None and target in redirect:
            doc_id = titles.get(redirect[target])
            stats["links_via_redirect"] += doc_id is not None
        if doc_id is None:
            stats["links_dropped_red"] += 1
        elif doc_id in links:
            stats["links_dropped_repeat"] += 1
        else:
            links[doc_id] = None
    stats["links"] += len(links)
    return list(links)


# ---------------------------------------------------------------- PubMed


def parse_pmid(value, path: Path, line: int, field: str) -> str:
    """A PMID as a canonical decimal string ('00123' and 123 are the same paper)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text.isdigit():
        raise DataError(path, f"expected a PMID (digits), got {value!r}", line=line, field=field)
    return str(int(text))


def cited_pmids(record: dict, path: Path, line: int) -> list[str]:
    field = "cited_pmids" if "cited_pmids" in record else "references"
    value = record.get(field)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = [item for item in _PMID_SEPARATORS.split(value) if item]
    if not isinstance(value, list):
        raise DataError(path, f"expected a list of PMIDs, got {type(value).__name__}", line=line, field=field)
    pmids = []
    for item in value:
        if isinstance(item, dict):
            item = item.get("pmid_cited", item.get("pmid"))
            if item in (None, ""):
                continue  # a reference without a PMID (a book, a web page) cannot be a link
        pmids.append(parse_pmid(item, path, line, field))
    return pmids


def pubmed_record(record: dict, path: Path, line: int) -> tuple[str, str, str | None]:
    pmid = parse_pmid(record.get("pmid"), path, line, "pmid")
    abstract = record.get("abstract")
    if abstract is None:
        abstract = ""
    if not isinstance(abstract, str):
        raise DataError(path, f"expected a string, got {type(abstract).__name__}", line=line, field="abstract")
    title = record.get("title")
    if title is not None and not isinstance(title, str):
        raise DataError(path, f"expected a string, got {type(title).__name__}", line=line, field="title")
    return pmid, abstract.strip(), title


def convert_pubmed(
    inputs: Iterable[str | os.PathLike], output: str | os.PathLike, include_title: bool = False
) -> dict[str, int]:
    """Write the corpus; text = abstract (title first with include_title); links = cited PMIDs
    that are documents of the corpus."""
    files = input_files(inputs)
    last: dict[str, tuple[int, int, bool]] = {}
    for index, path in enumerate(files):
        for line, record in read_jsonl(path):
            pmid, abstract, _ = pubmed_record(record, path, line)
            last[pmid] = (index, line, bool(abstract))
    present = {pmid for pmid, (_, _, has_text) in last.items() if has_text}
    stats = {
        "documents": 0,
        "records_superseded": 0,
        "records_without_abstract": 0,
        "links": 0,
        "links_dropped_outside": 0,
        "links_dropped_self": 0,
        "links_dropped_repeat": 0,
    }
    with atomic_output(output) as handle:
        for index, path in enumerate(files):
            for line, record in read_jsonl(path):
                pmid, abstract, title = pubmed_record(record, path, line)
                if last[pmid][:2] != (index, line):
                    stats["records_superseded"] += 1
                elif not abstract:
                    stats["records_without_abstract"] += 1
                else:
                    links = keep_present(cited_pmids(record, path, line), present, pmid, stats)
                    text = f"{title.strip()}\n{abstract}" if include_title and title else abstract
                    out = {"id": pmid, "title": title, "text": text, "links": links}
                    handle.write(json.dumps(out, ensure_ascii=False) + "\n")
                    stats["documents"] += 1
    return stats


def keep_present(cited: list[str], present: set[str], source: str, stats: dict[str, int]) -> list[str]:
    links: dict[str, None] = {}
    for pmid in cited:
        if pmid == source:
            stats["links_dropped_self"] += 1
        elif pmid not in present:
            stats["links_dropped_outside"] += 1
        elif pmid in links:
            stats["links_dropped_repeat"] += 1
        else:
            links[pmid] = None
    stats["links"] += len(links)
    return list(links)
