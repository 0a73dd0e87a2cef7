r"""Score a seed ensemble: the mean of several runs' saved test logits, decoded and scored with the
task's own metric, printed beside each run's own score.

    python scripts/ensemble.py runs/chemprot_hf/BioLinkBERT-base/seed1 runs/chemprot_hf/BioLinkBERT-base/seed2 \
        runs/chemprot_hf/BioLinkBERT-base/seed3 --output_dir runs/chemprot_hf/BioLinkBERT-base/ensemble

Sequence classification, NER and multiple choice (QA runs keep no raw logits, as in the original).
With --output_dir, ensemble_results.json and ensemble_predictions.jsonl are written there.
"""

import sys

from linkbert.cli import ArgumentParser
from linkbert.errors import report_errors
from linkbert.results.ensemble import main_body


def main(argv=None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("runs", nargs="+", help="finished run folders of one task (each with run_info.json)")
    parser.add_argument("--output_dir", help="write ensemble_results.json and ensemble_predictions.jsonl here")
    args = parser.parse_args(argv)
    return report_errors(lambda: main_body(args.runs, args.output_dir))


if __name__ == "__main__":
    sys.exit(main())
