"""Check that a data folder holds what the recipes read: data/<family>/<task>_hf/{train,dev,test}.json.

    python -m linkbert.tools.check_data data/

The quickest route to every benchmark is the original release's preprocessed archive
(`bash scripts/download_raw_data.sh preprocessed` fetches and unpacks it); this check says, per
recipe task, whether its files are there, so a wrong unzip level or a partial download shows before
a job starts.
"""

from __future__ import annotations

import sys
from pathlib import Path

from linkbert.cli import ArgumentParser

# folder under the data root -> the split files the recipe job reads there
SPLIT_FILES = ("train.json", "dev.json", "test.json")
EXPECTED = {
    **{f"qa/{name}_hf": SPLIT_FILES for name in ("hotpot", "triviaqa", "searchqa", "naturalqa", "newsqa", "squad")},
    **{f"seqcls/{name}_hf": SPLIT_FILES for name in ("pubmedqa", "bioasq", "BIOSSES", "HoC", "chemprot", "DDI", "GAD")},
    **{
        f"tokcls/{name}_hf": SPLIT_FILES
        for name in ("ebmnlp", "JNLPBA", "NCBI-disease", "BC2GM", "BC5CDR-disease", "BC5CDR-chem")
    },
    "mc/medqa_usmle_hf": SPLIT_FILES,
    "mc/mmlu_hf/professional_medicine": ("dev.json", "val.json", "test.json"),
}


def missing_files(data_dir: Path) -> dict[str, list[str]]:
    """Folder -> the files of it that are missing (only folders with something missing)."""
    missing = {}
    for folder, files in EXPECTED.items():
        absent = [name for name in files if not (data_dir / folder / name).is_file()]
        if absent:
            missing[folder] = absent
    return missing


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(prog="python -m linkbert.tools.check_data", description=__doc__)
    parser.add_argument("data_dir", type=Path, help="the folder passed to the recipes as DATA_DIR")
    args = parser.parse_args(argv)
    missing = missing_files(args.data_dir)
    for folder in EXPECTED:
        status = "ok" if folder not in missing else "missing " + ", ".join(missing[folder])
        print(f"{args.data_dir / folder}: {status}")
    found = len(EXPECTED) - len(missing)
    print(f"{found} of {len(EXPECTED)} recipe data folders complete in {args.data_dir}")
    if found == 0:
        print(
            f"error: {args.data_dir}: no recipe data found (is it the folder that holds qa/, seqcls/, tokcls/, mc/?)",
            file=sys.stderr,
        )
        return 2
    return 0 if not missing else 1


if __name__ == "__main__":
    sys.exit(main())
