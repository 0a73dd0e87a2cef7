"""Compare finished fine-tuning runs with the LinkBERT paper: one Markdown table, CSV and bar chart per
paper table (MRQA Table 1, BLURB Table 7 with the BLURB score, MedQA Table 8, MMLU Table 9).

Run from the repository root once some recipes have finished (each writes
runs/<task_dir>/<model>/predict_results.json; with SEEDS, LRS or EPOCHS one such folder per run under
<model>/seed<k>/ and <model>/lr<lr>_ep<epochs>/, shown as mean ± std over seeds, the grid point chosen
on dev):

    python scripts/make_tables.py --runs runs/ --output_dir tables/
    python scripts/make_tables.py --runs runs/ --output_dir tables/ --no_plots > report.md
"""

import sys
from pathlib import Path

from linkbert.cli import ArgumentParser
from linkbert.errors import report_errors
from linkbert.results.pipeline import make_tables


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument(
        "--runs",
        type=Path,
        default=Path("runs"),
        help="holds <task_dir>/<model>/[lr<lr>_ep<epochs>/][seed<k>/]predict_results.json",
    )
    parser.add_argument("--output_dir", type=Path, default=Path("tables"), help="<family>.md, .csv, .png go here")
    parser.add_argument("--no_plots", action="store_true", help="skip the PNG bar charts (no matplotlib needed)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return report_errors(lambda: make_tables(args.runs, args.output_dir, plots=not args.no_plots), status=1)


if __name__ == "__main__":
    sys.exit(main())
