"""Turn Wikipedia and PubMed dumps into the linked-corpus format (see linkbert.pretrain).

The paper's two graphs (ACL §3): Wikipedia hyperlinks, extracted with WikiExtractor, and PubMed
citations, extracted with pubmed_parser. Both converters read their inputs twice: the first pass
learns which documents exist, the second writes each document with only the links that resolve to
one of them (red links and citations of papers outside the dump are dropped and counted). Two passes
instead of holding the dump in memory: English Wikipedia is ~20 GB of text.

Wikipedia input: the output of `wikiextractor --links` (optionally `--json`), files or directories
(AA/wiki_00, ...). With --json every line is {"id", "url", "title", "text"}; without, documents are
`<doc id=".." url=".." title="..">` ... `</doc>` blocks whose first line repeats the title. Links in
the text look like `<a href="Target%20title">anchor text</a>`, or, HTML-escaped as WikiExtractor
3.0.5+ writes them by default (--html-safe), `&lt;a href="Target%20title"&gt;anchor text&lt;/a&gt;`:
both are read, the anchor markup is removed (the anchor text stays), character references in the
text are decoded once, and the target is resolved as MediaWiki does: URL-unquoted, underscores are
spaces, any `#section` ignored, first letter case-insensitive. WikiExtractor writes a redirect page as
an empty document (or drops it): empty documents are not documents of the corpus and never link
targets, and --redirects takes a TSV of `source<TAB>target` titles (plain titles, as MediaWiki shows
them) that a link follows first (one hop). Anchor markup in the input but not one link in the output
means the input was not understood: that stops the conversion with an error.

PubMed input: JSON lines as written from pubmed_parser's MEDLINE / OA parsers: `pmid`, `abstract`,
optional `title`, and the cited PMIDs as `cited_pmids` or `references` (a list of PMIDs, a list of
{"pmid_cited": ..} / {"pmid": ..} records, or one string separated by ';', ',' or spaces). A
reference that is not a PMID (a PMC id, an empty string, "n/a", a book without a PMID) is skipped and
counted. MEDLINE update files repeat PMIDs: the last record of a PMID wins. Records with an empty
abstract are not documents.
"""

from __future__ import annotations

import functools
import html
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from linkbert.errors import DataError
from linkbert.jsonl import ENCODING, atomic_output, read_jsonl, utf8_errors

# Complete character references only (`&amp;`, `&#38;`, `&#x26;`): html.unescape alone also decodes
# legacy names without their `;` (`&copy`, `&not`), which would turn "Tom&nothing" in --no-html-safe
# output into "Tom¬hing".
_CHARACTER_REFERENCE = re.compile(r"&(?:#[0-9]+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);")
# what --html-safe writes (html.escape), looked up without html.unescape's per-call cost
_COMMON_REFERENCES = {"&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'", "&#39;": "'"}
_ANCHOR = re.compile(r'<a href="([^"]*)">(.*?)</a>', re.S)
# anchor markup in any form, parsed or not, escaped or not: what the zero-links check looks for
_ANCHOR_MARKUP = re.compile(r"(?:<|&lt;)a\s+href\s*=", re.I)
_DOC_START = re.compile(r'^<doc id="(.*?)"(?: revid="[^"]*")? url="(.*?)" title="(.*)">\s*$')
_SPACES = re.compile(r"\s+")
_PMID_SEPARATORS = re.compile(r"[;,\s]+")


# ---------------------------------------------------------------- Wikipedia text and titles


def unescape_once(text: str) -> str:
    """Decode every complete character reference of `text` once: '&amp;amp;' -> '&amp;'."""
    if "&" not in text:
        return text
    return _CHARACTER_REFERENCE.sub(_decode_reference, text)


def _decode_reference(match: re.Match) -> str:
    reference = match.group()
    return _COMMON_REFERENCES.get(reference) or html.unescape(reference)


def canonical_title(title: str) -> str:
    """A page title as MediaWiki compares it: 'new_York  city#History' -> 'New York city'. Character
    references are decoded (WikiExtractor copies titles from the dump's XML without decoding them:
    'AT&amp;T Building'; MediaWiki decodes them in link targets too)."""
    title = unescape_once(title).split("#", 1)[0].replace("_", " ")
    title = _SPACES.sub(" ", title).strip()
    return title[:1].upper() + title[1:]


@functools.lru_cache(maxsize=1 << 20)  # popular pages are linked from thousands of articles
def normalize_title(href: str) -> str:
    """The title an anchor's href names: 'new_York%20City#History' -> 'New York City'.

    Order of operations, derived from how WikiExtractor 3.0.x builds a link (extract.py, clean()):
    it reads the dump's lines without an XML parser, so the wikitext is still XML-escaped
    (`[[AT&amp;T Building]]`); it replaces `[[title|label]]` by `<a href="` + quote(title) + `">`
    before it decodes entities, so the href is the URL-quoted *escaped* title,
    `AT%26amp%3BT%20Building`; only then does it decode the entities of the text, and last, with
    --html-safe, html.escape the whole text, markup included. strip_anchors has undone that last step
    (on the whole text) before it calls this; what is left is undone in reverse order: URL-unquote
    first (-> 'AT&amp;T Building'), then decode character references (-> 'AT&T Building'). The old
    order, unescape then unquote, left 'AT&amp;T Building': a red link. The same order reads the
    other forms seen in the wild: a title decoded before quoting ('AT%26T%20Building' -> 'AT&T
    Building', where '&T' is no reference) and an href left unquoted ('AT&amp;T Building').
    """
    return canonical_title(unquote(href))


def strip_anchors(text: str) -> tuple[str, list[str]]:
    """WikiExtractor text -> (clean text, the hrefs' titles in order): character references decoded
    once, which undoes --html-safe's escaping (`&lt;a href=..&gt;`, `&amp;`) and leaves
    --no-html-safe text, in which WikiExtractor has decoded them already, as it is; every anchor
    replaced by its anchor text."""
    targets = []

    def keep_anchor_text(match: re.Match) -> str:
        targets.append(normalize_title(match.group(1)))
        return match.group(2)

    return _ANCHOR.sub(keep_anchor_text, unescape_once(text)), targets


# ---------------------------------------------------------------- Wikipedia files


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
            for name in ("id", "title", "text"):
                if not isinstance(record.get(name), str):
                    raise DataError(path, "expected a string (WikiExtractor --json output)", line=line, field=name)
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
                if body and body[0].strip() == current["title"].strip():
                    body = body[1:]  # WikiExtractor repeats the title as the first line
                yield start, dict(current, text="".join(body).strip())
                current = None
            elif current is not None:
                body.append(line)
    if current is not None:
        raise DataError(path, "<doc> never closed", line=start)


def read_redirects(path: str | os.PathLike | None) -> dict[str, str]:
    """Canonical source title -> canonical target title, from a `source<TAB>target` TSV."""
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
            redirects[canonical_title(parts[0])] = canonical_title(parts[1])
    return redirects


# ---------------------------------------------------------------- Wikipedia conversion


@dataclass
class TitleIndex:
    """Pass 1's result: the articles (non-empty documents) by canonical title, and the titles of the
    empty documents (redirect pages as WikiExtractor writes them), which are no link targets."""

    articles: dict[str, str] = field(default_factory=dict)
    empty: set[str] = field(default_factory=set)


@dataclass
class AnchorMarkup:
    """Where anchor markup was first seen, for the error when not one link comes out of it."""

    path: Path
    line: int
    sample: str


def wikipedia_title_index(files: list[Path]) -> TitleIndex:
    """Pass 1: canonical title -> article id for every non-empty document; a repeated id is an error."""
    index, seen = TitleIndex(), {}
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
            title = canonical_title(record["title"])
            if record["text"].strip():
                index.articles.setdefault(title, record["id"])
            else:
                index.empty.add(title)
    return index


def convert_wikipedia(
    inputs: Iterable[str | os.PathLike], output: str | os.PathLike, redirects: str | os.PathLike | None = None
) -> dict[str, int]:
    """Write the corpus; return counts (documents, links kept, red links dropped, ...)."""
    files = input_files(inputs)
    index = wikipedia_title_index(files)
    redirect = read_redirects(redirects)
    stats = dict.fromkeys(
        (
            "documents",
            "documents_empty",
            "anchors",
            "links",
            "links_via_redirect",
            "links_dropped_red",
            "links_dropped_empty_page",
            "links_dropped_repeat",
        ),
        0,
    )
    markup = None
    with atomic_output(output) as handle:
        for path in files:
            for line, record in read_wikiextractor(path):
                markup = markup or find_anchor_markup(record["text"], path, line)
                if not record["text"].strip():
                    stats["documents_empty"] += 1  # a redirect page: not a document
                    continue
                text, targets = strip_anchors(record["text"])
                stats["anchors"] += len(targets)
                links = resolve_titles(targets, index, redirect, stats)
                out = {"id": record["id"], "title": unescape_once(record["title"]), "text": text, "links": links}
                handle.write(json.dumps(out, ensure_ascii=False) + "\n")
                stats["documents"] += 1
        if markup is not None and stats["links"] == 0:
            raise no_links_error(markup, stats)
    return stats


def find_anchor_markup(text: str, path: Path, line: int) -> AnchorMarkup | None:
    match = _ANCHOR_MARKUP.search(text)
    if match is None:
        return None
    return AnchorMarkup(path, line, text[match.start() : match.start() + 80])


def no_links_error(markup: AnchorMarkup, stats: dict[str, int]) -> DataError:
    """The input has anchor markup but the corpus would have no link: going on would silently
    pretrain with BERT's pairs only."""
    if stats["anchors"] == 0:
        seen = 'in no form this converter reads (<a href="..">..</a>, plain or HTML-escaped)'
    else:
        seen = (
            f"{stats['anchors']} anchors read, none resolves to an article ({stats['links_dropped_red']} red, "
            f"{stats['links_dropped_empty_page']} to empty pages)"
        )
    return DataError(
        markup.path,
        f"anchor markup {markup.sample!r} but 0 links in the whole corpus: {seen}; "
        "expected the output of `wikiextractor --links` for the whole dump",
        line=markup.line,
    )


def resolve_title(target: str, index: TitleIndex, redirect: dict[str, str]) -> tuple[str | None, str]:
    """(article id or None, how): the redirects file first, so that a link to a redirect page (an
    empty document, or an old WikiExtractor's 'REDIRECT x' text) reaches the page it redirects to."""
    if target in redirect:
        doc_id = index.articles.get(redirect[target])
        if doc_id is not None:
            return doc_id, "redirect"
    doc_id = index.articles.get(target)
    if doc_id is not None:
        return doc_id, "direct"
    return None, "empty_page" if target in index.empty or redirect.get(target) in index.empty else "red"


def resolve_titles(targets: list[str], index: TitleIndex, redirect: dict[str, str], stats: dict[str, int]) -> list[str]:
    """The article ids the targets resolve to, first occurrence order, repeats dropped; counted."""
    links: dict[str, None] = {}
    for target in targets:
        doc_id, how = resolve_title(target, index, redirect)
        if doc_id is None:
            stats[f"links_dropped_{how}"] += 1
        elif doc_id in links:
            stats["links_dropped_repeat"] += 1
        else:
            stats["links_via_redirect"] += how == "redirect"
            links[doc_id] = None
    stats["links"] += len(links)
    return list(links)


# ---------------------------------------------------------------- PubMed


def canonical_pmid(value) -> str | None:
    """A PMID as a canonical decimal string ('00123' and 123 are the same paper); None if `value`
    is no PMID (a PMC id, an empty string, 'n/a', a float, a boolean)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    text = str(value).strip()
    return str(int(text)) if text.isascii() and text.isdigit() else None


def parse_pmid(value, path: Path, line: int, field: str) -> str:
    """A record's own PMID: without one the record cannot be a document, so that is an error."""
    pmid = canonical_pmid(value)
    if pmid is None:
        raise DataError(path, f"expected a PMID (digits), got {value!r}", line=line, field=field)
    return pmid


def cited_pmids(record: dict, path: Path, line: int, stats: dict[str, int]) -> list[str]:
    """The PMIDs a record cites; references that are no PMID are skipped and counted in
    stats["references_unusable"] (one odd reference must not stop a dump of millions)."""
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
            item = item.get("pmid_cited", item.get("pmid"))  # None for a book or a web page
        pmid = canonical_pmid(item)
        if pmid is None:
            stats["references_unusable"] += 1
        else:
            pmids.append(pmid)
    return pmids


def pubmed_record(record: dict, path: Path, line: int) -> tuple[str, str, str | None]:
    """(PMID, stripped abstract, title or None) of one record; a wrong type is an error."""
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
        "references_unusable": 0,
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
                    links = keep_present(cited_pmids(record, path, line, stats), present, pmid, stats)
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
