"""Convert BLURB's data_generation output into data/{seqcls,tokcls}/<task>_hf/{train,dev,test}.json.

Run from the repository root once raw_data/blurb/data_generation/data/ is in place (the steps are
printed by `bash scripts/download_raw_data.sh blurb`):

    python scripts/preprocess_blurb.py
    python scripts/preprocess_blurb.py --tasks HoC ebmnlp
"""

import sys
from pathlib import Path

from linkbert.cli import ArgumentParser
from linkbert.errors import report_errors
from linkbert.preprocess.blurb import TASKS, convert_all


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__)
    raw_default = Path("raw_data/blurb/data_generation/data")
    parser.add_argument("--raw_dir", type=Path, default=raw_default, help="BLURB's data_generation/data folder")
    parser.add_argument("--output_dir", type=Path, default=Path("data"), help="seqcls/ and tokcls/ are written here")
    parser.add_argument("--tasks", nargs="+", default=None, metavar="TASK", help=f"default: all of {', '.join(TASKS)}")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return report_errors(lambda: convert_all(args.tasks, args.raw_dir, args.output_dir), status=1)


if __name__ == "__main__":
    sys.exit(main())
