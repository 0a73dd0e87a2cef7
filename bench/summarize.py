"""Markdown tables of the fine-tuning throughput results, ready to paste into the README.

Reads every bench/results/*.json written by bench/finetune_throughput.py (or the files given) and
prints, per file, what was run, the device / torch / transformers line and the table, formatted by
the same code that prints the benchmark's own report. JSON files of the other benchmarks are
skipped: a file counts as a throughput result when it has every top-level key finetune_throughput.py
writes ("settings" alone is not enough: pretrain_multihop.py's results have one too).

    python bench/summarize.py
    python bench/summarize.py bench/results/h100-base-cls.json
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from finetune_throughput import format_report

RESULTS = Path(__file__).resolve().parent / "results"
# top-level keys of every finetune_throughput.py result, older ones included
REPORT_KEYS = {
    "shape",
    "steps",
    "batch",
    "max_seq_length",
    "mean_length",
    "device",
    "torch",
    "transformers",
    "settings",
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("files", nargs="*", type=Path, help="result files (default: bench/results/*.json)")
    args = parser.parse_args(argv)
    files = args.files or sorted(RESULTS.glob("*.json"))
    tables = []
    for path in files:
        report = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(report, dict) or not REPORT_KEYS <= report.keys():
            continue
        tables.append(format_report(report, title=path.name))
    if not tables:
        print(f"no finetune_throughput.py results among {len(files)} file(s)", file=sys.stderr)
        return 1
    print("\n\n".join(tables))
    return 0


if __name__ == "__main__":
    sys.exit(main())
