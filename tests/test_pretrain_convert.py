"""The Wikipedia and PubMed converters on input written the way the real tools write it.

The Wikipedia fixtures are what WikiExtractor 3.0.x writes with --links: titles copied from the
dump's XML undecoded (`AT&amp;T Building`), hrefs the URL-quoted undecoded title
(`AT%26amp%3BT%20Building`, ',' and '#' quoted too), and by default (--html-safe) the whole text,
anchors included, HTML-escaped once more; redirect pages as empty documents. Every expected output
below was worked out by hand from those strings.
"""

import json

import pytest
from helpers import load_entry_point, read_jsonl, write_jsonl

from linkbert.errors import DataError
from linkbert.pretrain.convert import convert_pubmed, convert_wikipedia, normalize_title, strip_anchors

# ---------------------------------------------------------------- Wikipedia, escaped (the default)

# <doc> format: header with the raw title, the title repeated, a blank line, the text, </doc>
DOC_FORMAT_ESCAPED = """\
<doc id="10" url="https://en.wikipedia.org/wiki?curid=10" title="Washington, D.C.">
Washington, D.C.

Washington, D.C. has the &lt;a href="Tidal%20Basin"&gt;Tidal Basin&lt;/a&gt; and the \
&lt;a href="AT%26amp%3BT%20Building"&gt;AT&amp;T Building&lt;/a&gt;.
Fish &amp; chips cost &lt; 5 dollars near the &lt;a href="Lost%20Pier"&gt;old pier&lt;/a&gt;; \
a sign there reads &amp;amp;.
</doc>
<doc id="12" url="https://en.wikipedia.org/wiki?curid=12" title="AT&amp;T Building">
AT&amp;T Building

The AT&amp;T Building faces &lt;a href="washington%2C%20D.C.%23Downtown"&gt;Washington&lt;/a&gt;, \
the &lt;a href="Capital%20Basin"&gt;basin&lt;/a&gt; and \
&lt;a href="Old%20Post%20Office"&gt;the old post office&lt;/a&gt;.
</doc>
<doc id="14" url="https://en.wikipedia.org/wiki?curid=14" title="Capital Basin">
Capital Basin


</doc>
"""

# --json format: one object per line (json.dumps, so ASCII with \" escapes)
JSON_FORMAT_ESCAPED = [
    {
        "id": "13",
        "revid": "500",
        "url": "https://en.wikipedia.org/wiki?curid=13",
        "title": "Tidal Basin",
        "text": 'The basin lies in &lt;a href="Washington%2C%20D.C."&gt;Washington, D.C.&lt;/a&gt; by the '
        '&lt;a href="AT%26amp%3BT%20Building"&gt;AT&amp;T Building&lt;/a&gt; '
        '(&lt;a href="AT%26amp%3BT%20Building"&gt;AT&amp;T&lt;/a&gt;), a &quot;tidal&quot; basin.\n'
        'See &lt;a href="Potomac%20River"&gt;the river&lt;/a&gt;.',
    },
    {
        "id": "16",
        "revid": "501",
        "url": "https://en.wikipedia.org/wiki?curid=16",
        "title": "Old Post Office",
        "text": "",
    },
]


def write_escaped_dump(root):
    (root / "AA").mkdir(parents=True)
    (root / "AA" / "wiki_00").write_text(DOC_FORMAT_ESCAPED, encoding="utf-8")
    write_jsonl(root / "AB" / "wiki_00", JSON_FORMAT_ESCAPED)
    return root


def test_escaped_wikiextractor_output_converts_to_clean_text_and_resolved_links(tmp_path):
    dump = write_escaped_dump(tmp_path / "wiki")
    redirects = tmp_path / "redirects.tsv"
    redirects.write_text("Capital Basin\tTidal Basin\n", encoding="utf-8")
    out = tmp_path / "wiki.jsonl"
    stats = convert_wikipedia([dump], out, redirects)
    assert read_jsonl(out) == [
        {
            "id": "10",
            "title": "Washington, D.C.",
            "text": "Washington, D.C. has the Tidal Basin and the AT&T Building.\n"
            "Fish & chips cost < 5 dollars near the old pier; a sign there reads &amp;.",
            "links": ["13", "12"],  # Lost Pier is red
        },
        {
            "id": "12",
            "title": "AT&T Building",
            "text": "The AT&T Building faces Washington, the basin and the old post office.",
            # Capital Basin (an empty page) through the redirect; Old Post Office is an empty page
            "links": ["10", "13"],
        },
        {
            "id": "13",
            "title": "Tidal Basin",
            "text": 'The basin lies in Washington, D.C. by the AT&T Building (AT&T), a "tidal" basin.\nSee the river.',
            "links": ["10", "12"],  # the second AT&T link is a repeat, Potomac River is red
        },
    ]
    assert stats == {
        "documents": 3,
        "documents_empty": 2,
        "anchors": 10,
        "links": 6,
        "links_via_redirect": 1,
        "links_dropped_red": 2,
        "links_dropped_empty_page": 1,
        "links_dropped_repeat": 1,
    }


def test_empty_documents_are_no_link_targets_without_a_redirect(tmp_path):
    dump = write_escaped_dump(tmp_path / "wiki")
    out = tmp_path / "wiki.jsonl"
    stats = convert_wikipedia([dump], out)
    docs = {doc["id"]: doc for doc in read_jsonl(out)}
    assert sorted(docs) == ["10", "12", "13"]  # the empty pages 14 and 16 are not documents
    assert docs["12"]["links"] == ["10"]  # Capital Basin (14) and Old Post Office (16) are empty
    assert stats["links_dropped_empty_page"] == 2 and stats["links_via_redirect"] == 0 and stats["links"] == 5


# ---------------------------------------------------------------- Wikipedia, --no-html-safe


def test_unescaped_wikiextractor_output_is_left_as_it_is_apart_from_the_anchors(tmp_path):
    dump = tmp_path / "wiki"
    (dump / "AA").mkdir(parents=True)
    (dump / "AA" / "wiki_00").write_text(
        '<doc id="1" url="u?curid=1" title="AT&amp;T Building">\nAT&amp;T Building\n\n'
        'The AT&T Building & its <a href="Tidal%20Basin">basin</a>: x < y, R&D, Tom&nothing.\n</doc>\n',
        encoding="utf-8",
    )
    write_jsonl(
        dump / "AB" / "wiki_00",
        [
            {
                "id": "2",
                "url": "u?curid=2",
                "title": "Tidal Basin",
                "text": 'By the <a href="AT%26amp%3BT%20Building">AT&T tower</a>.',
            },
            {
                "id": "3",
                "url": "u?curid=3",
                "title": "Potomac",
                "text": '<a href="AT%26T%20Building">AT&T</a> and <a href="tidal_Basin">it</a>',
            },
        ],
    )
    out = tmp_path / "wiki.jsonl"
    stats = convert_wikipedia([dump], out)
    assert read_jsonl(out) == [
        {
            "id": "1",
            "title": "AT&T Building",
            "text": "The AT&T Building & its basin: x < y, R&D, Tom&nothing.",
            "links": ["2"],
        },
        {"id": "2", "title": "Tidal Basin", "text": "By the AT&T tower.", "links": ["1"]},
        {"id": "3", "title": "Potomac", "text": "AT&T and it", "links": ["1", "2"]},
    ]
    assert stats["links"] == 4 and stats["links_dropped_red"] == 0


def test_href_titles_with_an_ampersand_in_every_form_wikiextractor_writes():
    # quoted after the dump's escaping (3.0.x), quoted after decoding, not quoted at all
    for href in ("AT%26amp%3BT%20Building", "AT%26T%20Building", "AT&amp;T_Building", "aT%26amp%3BT_Building%23Lobby"):
        assert normalize_title(href) == "AT&T Building", href
    text, targets = strip_anchors('&lt;a href="AT%26amp%3BT%20Building"&gt;AT&amp;amp;T&lt;/a&gt; &amp;lt;b&amp;gt;')
    assert (text, targets) == ("AT&amp;T &lt;b&gt;", ["AT&T Building"])  # decoded exactly once


# ---------------------------------------------------------------- Wikipedia: markup but no links


def test_anchor_markup_without_a_single_link_stops_the_conversion(tmp_path):
    dump = tmp_path / "wiki"
    write_jsonl(
        dump / "wiki_00",
        [
            {"id": "1", "url": "u", "title": "One", "text": "Plain text."},
            {"id": "2", "url": "u", "title": "Two", "text": 'See &lt;a href="Nowhere"&gt;x&lt;/a&gt;.'},
        ],
    )
    out = tmp_path / "wiki.jsonl"
    with pytest.raises(DataError) as err:
        convert_wikipedia([dump], out)
    message = str(err.value)
    assert message.startswith(f"{dump / 'wiki_00'}:2: anchor markup '&lt;a href=\"Nowhere\"&gt;x&lt;/a&gt;.'")
    assert "1 anchors read, none resolves to an article (1 red, 0 to empty pages)" in message
    assert not out.exists()


def test_anchor_markup_in_a_form_not_read_names_what_it_saw(tmp_path):
    dump = tmp_path / "wiki_00"
    dump.write_text(
        '<doc id="1" url="u" title="One">\nOne\n\nSee <a href=\'Two\'>two</a>.\n</doc>\n'
        '<doc id="2" url="u" title="Two">\nTwo\n\nText.\n</doc>\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError, match=r"wiki_00:1: anchor markup \"<a href='Two'>two</a>.\" but 0 links.*in no form"):
        convert_wikipedia([dump], tmp_path / "wiki.jsonl")


def test_a_dump_without_any_anchor_markup_converts_without_links(tmp_path):
    dump = write_jsonl(tmp_path / "wiki_00", [{"id": "1", "url": "u", "title": "One", "text": "Fish &amp; chips."}])
    stats = convert_wikipedia([dump], tmp_path / "wiki.jsonl")
    assert read_jsonl(tmp_path / "wiki.jsonl") == [{"id": "1", "title": "One", "text": "Fish & chips.", "links": []}]
    assert stats["links"] == 0 and stats["anchors"] == 0


def test_convert_wikipedia_script_reports_the_error_as_one_line(tmp_path, capsys):
    dump = write_jsonl(
        tmp_path / "wiki_00", [{"id": "1", "url": "u", "title": "One", "text": '&lt;a href="X"&gt;x&lt;/a&gt;'}]
    )
    main = load_entry_point("pretrain/convert_wikipedia.py")
    assert main(["--input", str(dump), "--output", str(tmp_path / "wiki.jsonl")]) == 2
    assert f"error: {dump}:1: anchor markup" in capsys.readouterr().err


# ---------------------------------------------------------------- PubMed


PUBMED = [
    {
        "pmid": "101",
        "title": "A",
        "abstract": "Alpha.",
        "references": [
            {"pmid_cited": "102"},
            {"pmid_cited": "PMC123"},
            {"pmid_cited": ""},
            {"pmid_cited": "n/a"},
            {"pmid_cited": "0103"},
        ],
    },
    {"pmid": 102, "abstract": "Beta.", "cited_pmids": ["101", "PMC9", 12.5, None, "999", True]},
    {"pmid": "103", "abstract": "Gamma.", "references": "101; n/a;102, PMC7"},
    {"pmid": "104", "abstract": "Delta.", "references": [{"title": "a book without a PMID"}, "²"]},
]


def test_pubmed_references_that_are_no_pmid_are_skipped_and_counted(tmp_path):
    out = tmp_path / "corpus.jsonl"
    stats = convert_pubmed([write_jsonl(tmp_path / "pubmed.jsonl", PUBMED)], out)
    assert read_jsonl(out) == [
        {"id": "101", "title": "A", "text": "Alpha.", "links": ["102", "103"]},
        {"id": "102", "title": None, "text": "Beta.", "links": ["101"]},
        {"id": "103", "title": None, "text": "Gamma.", "links": ["101", "102"]},
        {"id": "104", "title": None, "text": "Delta.", "links": []},
    ]
    # unusable: PMC123, "", n/a | PMC9, 12.5, None, True | n/a, PMC7 | the book, "²"
    assert stats["references_unusable"] == 3 + 4 + 2 + 2
    assert stats["links"] == 5 and stats["links_dropped_outside"] == 1 and stats["documents"] == 4


def test_convert_pubmed_script_prints_the_unusable_count(tmp_path, capsys):
    main = load_entry_point("pretrain/convert_pubmed.py")
    source = write_jsonl(tmp_path / "pubmed.jsonl", PUBMED)
    assert main(["--input", str(source), "--output", str(tmp_path / "corpus.jsonl")]) == 0
    assert "references_unusable 11" in capsys.readouterr().out


def test_pubmed_malformed_json_line_names_file_and_line(tmp_path):
    source = tmp_path / "pubmed.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in PUBMED[:2]) + '{"pmid": "105", "abstract": \n')
    with pytest.raises(DataError, match=r"pubmed\.jsonl:3: not valid JSON"):
        convert_pubmed([source], tmp_path / "corpus.jsonl")


def test_doc_headers_with_a_revision_id_are_read(tmp_path):
    dump = tmp_path / "wiki_00"
    dump.write_text(
        '<doc id="1" revid="77" url="u" title="One">\nOne\n\nTo <a href="Two">two</a>.\n</doc>\n'
        '<doc id="2" revid="78" url="u" title="Two">\nTwo\n\nBack to <a href="One">one</a>.\n</doc>\n',
        encoding="utf-8",
    )
    convert_wikipedia([dump], tmp_path / "wiki.jsonl")
    assert [(d["id"], d["text"], d["links"]) for d in read_jsonl(tmp_path / "wiki.jsonl")] == [
        ("1", "To two.", ["2"]),
        ("2", "Back to one.", ["1"]),
    ]
