"""Peak memory of one fine-tuning job per task family, measured on the bundled demo data.

    python bench/memory_per_task.py --output bench/results/cpu-2core-memory.json

Each job runs its real entry script in a child process with the recipe's sequence length, batch and
tokenizing workers, on the tiny model `make demo` builds; the peak resident memory of the whole
process tree (the run and its tokenizing workers) is sampled every 0.1 s. Shared pages of forked
workers count once per process, so the number is an upper bound of what the machine needs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from linkbert.cli import ArgumentParser, flags

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "demo" / "sample_data"
# name -> (entry script, demo folder, the recipe's flags that shape memory)
JOBS = {
    "seqcls (ChemProt)": (
        "seqcls/run_seqcls.py",
        "seqcls/chemprot_demo_hf",
        flags(max_seq_length=256, per_device_train_batch_size=32, metric_name="PRF1"),
    ),
    "ner (NCBI-disease)": (
        "tokcls/run_ner.py",
        "tokcls/ner_demo_hf",
        flags(max_seq_length=512, per_device_train_batch_size=32),
    ),
    "mc (MedQA)": (
        "mc/run_multiple_choice.py",
        "mc/medqa_demo_hf",
        flags(max_seq_length=512, per_device_train_batch_size=4, gradient_accumulation_steps=8),
    ),
    "qa (SQuAD)": (
        "qa/run_qa.py",
        "qa/mrqa_demo_hf",
        flags(max_seq_length=384, doc_stride=128, per_device_train_batch_size=12, preprocessing_num_workers=10),
    ),
}


def tree_rss_kb(pid: int) -> int:
    """Resident memory of `pid` and all its descendants, in KB (from ps)."""
    rows = subprocess.run(["ps", "-A", "-o", "pid=,ppid=,rss="], capture_output=True, text=True).stdout.split("\n")
    children, rss = {}, {}
    for row in rows:
        if row.strip():
            child, parent, kb = (int(value) for value in row.split())
            children.setdefault(parent, []).append(child)
            rss[child] = kb
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack += children.get(current, [])
    return total


def peak_memory_mb(cmd: list[str]) -> tuple[int, float]:
    process = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss_kb(process.pid))
        time.sleep(0.1)
    return process.returncode, peak / 1024


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=ROOT / "demo_runs" / "tiny-bert", help="built by `make demo`")
    parser.add_argument("--output", type=Path, help="write the numbers here as JSON")
    args = parser.parse_args(argv)
    report = {}
    for name, (script, folder, shape) in JOBS.items():
        out = ROOT / "demo_runs" / "memory" / folder.split("/")[-1]
        data = DATA / folder
        run = flags(
            model_name_or_path=args.model,
            train_file=data / "train.json",
            validation_file=data / "dev.json",
            test_file=data / "test.json",
            do_train=True,
            do_eval=True,
            do_predict=True,
            output_dir=out,
            overwrite_output_dir=True,
            num_train_epochs=1,
            report_to="none",
        )
        cmd = [sys.executable, str(ROOT / "src" / script), *run, *shape]
        status, peak = peak_memory_mb(cmd)
        report[name] = {"exit_status": status, "peak_tree_rss_mb": round(peak)}
        print(f"{name:<20} peak {peak:7.0f} MB  (exit {status})", flush=True)
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(row["exit_status"] == 0 for row in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
