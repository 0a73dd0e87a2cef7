"""Convert MMLU professional_medicine into data/mc/mmlu_hf/professional_medicine/{dev,val,test}.json.

Run from the repository root after `bash scripts/download_raw_data.sh mmlu`:

    python scripts/preprocess_mmlu.py
"""

import sys
from pathlib import Path

from linkbert.cli import ArgumentParser
from linkbert.errors import report_errors
from linkbert.preprocess.mc import convert_mmlu


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument(
        "--raw_dir", type=Path, default=Path("raw_data/mmlu"), help="holds data/<split>/<subject>_<split>.csv"
    )
    parser.add_argument("--output_dir", type=Path, default=Path("data/mc"), help="mmlu_hf/<subject>/ is written here")
    parser.add_argument(
        "--subjects",
        nargs="+",
        default=["professional_medicine"],
        help="MMLU subjects (the paper uses professional_medicine)",
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return report_errors(lambda: convert_mmlu(args.raw_dir, args.output_dir, args.subjects), status=1)


if __name__ == "__main__":
    sys.exit(main())
