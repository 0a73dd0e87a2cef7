"""Convert WikiExtractor output (run with --links, with or without --json) into a linked corpus.

    python -m wikiextractor.WikiExtractor enwiki-latest-pages-articles.xml.bz2 --links --json -o raw_data/wiki
    python src/pretrain/convert_wikipedia.py --input raw_data/wiki --output data/pretrain/wiki.jsonl

Anchors `<a href="Title">text</a>`, HTML-escaped or not (WikiExtractor 3.0.5+ escapes its output
by default; --no-html-safe does not), become links to the article with that title (MediaWiki title
rules: URL-unquoted, underscores = spaces, first letter case-insensitive); the anchor text stays in
the text, and the text's character references (`&amp;`) are decoded once. Red links are dropped and
counted. Empty documents (redirect pages, as WikiExtractor writes them) are neither written nor link
targets; --redirects FILE (TSV: source title, target title) is consulted first, so that links to a
redirect reach its target. Anchor markup in the input and not one link in the output stops with an
error naming the file and line where the markup was seen.
"""

import sys

from linkbert.cli import ArgumentParser
from linkbert.errors import report_errors
from linkbert.pretrain.convert import convert_wikipedia


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--input", nargs="+", required=True, help="WikiExtractor output files or directories")
    parser.add_argument("--output", required=True, help="Corpus to write (JSON lines: id, title, text, links)")
    parser.add_argument("--redirects", default=None, help="Optional TSV of redirects: source title<TAB>target title")
    args = parser.parse_args(argv)

    def body():
        stats = convert_wikipedia(args.input, args.output, args.redirects)
        print(f"{args.output}: " + ", ".join(f"{key} {value}" for key, value in stats.items()))

    return report_errors(body)


if __name__ == "__main__":
    sys.exit(main())
