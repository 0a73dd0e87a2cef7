"""Convert MedQA-USMLE (US, 4 options) into data/mc/medqa_usmle_hf/{train,dev,test}.json.

Run from the repository root once raw_data/medqa/data_clean/ is unzipped (the steps are printed by
`bash scripts/download_raw_data.sh medqa`):

    python scripts/preprocess_medqa.py
"""

import sys
from pathlib import Path

from linkbert.cli import ArgumentParser
from linkbert.errors import report_errors
from linkbert.preprocess.mc import convert_medqa


def parse_args(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument(
        "--raw_dir", type=Path, default=Path("raw_data/medqa"), help="holds data_clean/questions/US/4_options/"
    )
    parser.add_argument("--output_dir", type=Path, default=Path("data/mc"), help="medqa_usmle_hf/ is written here")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    return report_errors(lambda: convert_medqa(args.raw_dir, args.output_dir), status=1)


if __name__ == "__main__":
    sys.exit(main())
