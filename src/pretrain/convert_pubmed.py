r"""Convert PubMed abstracts with their cited PMIDs (JSON lines from pubmed_parser) into a linked corpus.

    python src/pretrain/convert_pubmed.py --input raw_data/pubmed/medline.jsonl raw_data/pubmed/updates/ \
        --output data/pretrain/pubmed.jsonl

Input records: `pmid`, `abstract`, optional `title`, cited PMIDs in `cited_pmids` or `references`
(pubmed_parser's parse_medline_xml / parse_pubmed_references output, one JSON object per line). A
citation becomes a link when the cited PMID is a document of the corpus; others are dropped and
counted, and so are references that are no PMID (a PMC id, "", "n/a": references_unusable). A PMID
seen more than once (MEDLINE update files) keeps its last record.
"""

import sys

from linkbert.cli import ArgumentParser
from linkbert.errors import report_errors
from linkbert.pretrain.convert import convert_pubmed


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--input", nargs="+", required=True, help="JSON-lines files or directories of them")
    parser.add_argument("--output", required=True, help="Corpus to write (JSON lines: id, title, text, links)")
    parser.add_argument(
        "--include_title",
        action="store_true",
        help="Put the title before the abstract in the text (default: abstract only)",
    )
    args = parser.parse_args(argv)

    def body():
        stats = convert_pubmed(args.input, args.output, args.include_title)
        print(f"{args.output}: " + ", ".join(f"{key} {value}" for key, value in stats.items()))

    return report_errors(body)


if __name__ == "__main__":
    sys.exit(main())
