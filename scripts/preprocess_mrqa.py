"""Convert the MRQA 2019 raw files into data/qa/<d>_hf/{train,dev,test}.json with the in-house dev/test split.

Run from the repository root after `bash scripts/download_raw_data.sh mrqa splits`:

    python scripts/preprocess_mrqa.py
    python scripts/preprocess_mrqa.py --datasets squad hotpot --on_span_mismatch error
"""

import sys
from pathlib import Path

from linkbert.cli import ArgumentParser
from linkbert.errors import report_errors
from linkbert.preprocess.mrqa import DATASETS, convert_all


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--raw_dir", type=Path, default=Path("raw_data/mrqa"), help="holds {train,dev}/<X>.jsonl[.gz]")
    parser.add_argument(
        "--splits_dir", type=Path, default=Path("scripts/inhouse_splits"), help="holds inhouse_split_<d>.json"
    )
    parser.add_argument("--output_dir", type=Path, default=Path("data/qa"), help="<d>_hf/ folders are written here")
    parser.add_argument(
        "--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS), help="default: all six"
    )
    parser.add_argument(
        "--on_span_mismatch",
        choices=["warn", "error"],
        default="warn",
        help="when context[start:end+1] of a detected answer differs from its text: count and warn (records kept, "
        "as the original did) or stop with an error",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return report_errors(
        lambda: convert_all(args.datasets, args.raw_dir, args.splits_dir, args.output_dir, args.on_span_mismatch),
        status=1,
    )


if __name__ == "__main__":
    sys.exit(main())
