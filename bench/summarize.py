"""Markdown tables of the fine-tuning throughput results, ready to paste into the README.

Reads every bench/results/*.json written by bench/finetune_throughput.py (or the files given) and
prints, per file, what was run, the device / torch / transformers line and the table, formatted by
the same code that prints the benchmark's own report. JSON files of the other benchmarks are
skipped: a file counts as a throughput result when it has every top-level key finetune_throughput.py
writes ("settings" alone is not enough: pretrain_multihop.py's results have one too).

    python bench/summarize.py
    python bench/summarize.py bench/results/h100-base-cls.json
    python bench/summarize.py --readme README.md bench/results/h100-*.json   # rewrite README's GPU block

With --readme, the tables replace what stands between the README's two marker lines (README_START and
README_END) instead of being printed; the rest of the file is left as it is.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from finetune_throughput import format_report

RESULTS = Path(__file__).resolve().parent / "results"
README_START = "<!-- gpu-results:start (bench/summarize.py --readme rewrites this block) -->"
README_END = "<!-- gpu-results:end -->"
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
    parser.add_argument("--readme", type=Path, help="write the tables into this file's GPU results block")
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
    if args.readme:
        return write_readme_block(args.readme, "\n\n".join(tables))
    print("\n\n".join(tables))
    return 0


def write_readme_block(path: Path, text: str) -> int:
    """Replace the lines between README_START and README_END in `path` with `text`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines.count(README_START) != 1 or lines.count(README_END) != 1:
        print(f"{path}: expected one line {README_START!r} and one line {README_END!r}", file=sys.stderr)
        return 1
    start, end = lines.index(README_START), lines.index(README_END)
    if end < start:
        print(f"{path}: the end marker comes before the start marker", file=sys.stderr)
        return 1
    lines[start + 1 : end] = ["", text, ""]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
