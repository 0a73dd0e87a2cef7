"""The cost model (bench/cost_model.py) checked against real runs on the CPU, where steps are compute-bound.

For each job (default: ChemProt, NCBI-disease, PubMedQA, MedQA) it writes synthetic train / dev /
test splits whose token lengths are drawn from the real split's histogram (bench/lengths.py: each
word is one token of the model's vocabulary; a MedQA question's four options share its length), and
runs our entry path (`linkbert.finetune.run.run`, the code behind run_seqcls.py / run_ner.py /
run_multiple_choice.py; tokenization cached, so excluded) with training, evaluation and prediction,
on a randomly initialised BERT of the all-MiniLM-L6 shape (6 layers x 384 hidden, 12 heads), under:

  original  the original release's padding and kernels: eager attention, unfused AdamW, inputs padded to
            max_seq_length (sequence classification) or to the batch's longest (NER, multiple choice)
  dynamic   SDPA, fused AdamW, each batch padded to its longest input
  padfree   dynamic + --padding_free (on the CPU attention runs on a padded copy: the "repad" kernel)

Settings are interleaved (A, B, C, A, B, C, ...) and repeated, and the median of each is compared
with the cost model's prediction for the very batches the run built (a wrapped collator records
each batch's real lengths): predicted ratio = setting FLOPs / original FLOPs, measured ratio =
setting seconds / original seconds (train + evaluation + prediction runtimes as the Trainer reports
them). Keep the machine otherwise quiet, or at least the thread count fixed:

    OMP_NUM_THREADS=1 python bench/cpu_check.py --repeats 3 --output bench/results/cpu-2core-cost-model.json
    python bench/cpu_check.py --jobs NCBI-disease_hf --repeats 1 --train 64    # one quick job
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cost_model import SHAPES, Setting, batch_work, original_setting  # noqa: E402
from lengths import job, sample_lengths  # noqa: E402

from linkbert.cli import flags  # noqa: E402

DEFAULT_JOBS = ("chemprot_hf", "NCBI-disease_hf", "pubmedqa_hf", "medqa_usmle_hf")
SETTINGS = ("original", "dynamic", "padfree")
WORDS = [f"w{i}" for i in range(500)]
TAGS = ["O", "B-Disease", "I-Disease"]
OPTIONS = 4  # MedQA-USMLE's options per question


# ----- synthetic splits of the real lengths (every word one token; [CLS] and [SEP] make up the rest)


def words(rng: random.Random, count: int) -> list[str]:
    return [rng.choice(WORDS) for _ in range(max(1, count))]


def seqcls_record(rng: random.Random, index: int, length: int) -> dict:
    return {"id": str(index), "sentence": " ".join(words(rng, length - 2)), "label": rng.choice(["yes", "no"])}


def ner_record(rng: random.Random, index: int, length: int) -> dict:
    tokens = words(rng, length - 2)
    return {"id": str(index), "tokens": tokens, "ner_tags": [rng.choice(TAGS) for _ in tokens]}


def mc_record(rng: random.Random, index: int, length: int) -> dict:
    """A question of `length` tokens per option: [CLS] question [SEP] option [SEP], one-word options."""
    record = {"id": str(index), "sent1": " ".join(words(rng, length - 4)), "sent2": ""}
    record.update({f"ending{option}": rng.choice(WORDS) for option in range(OPTIONS)})
    record["label"] = rng.randrange(OPTIONS)
    return record


RECORDS = {"sequence classification": seqcls_record, "NER": ner_record, "multiple choice": mc_record}


def write_split(path: Path, family: str, lengths, seed: int) -> Path:
    rng = random.Random(seed)
    make = RECORDS[family]
    with open(path, "w", encoding="utf-8") as handle:
        for index, length in enumerate(lengths):
            handle.write(json.dumps(make(rng, index, int(length))) + "\n")
    return path


def write_job_data(directory: Path, name: str, sizes: dict[str, int], seed: int) -> dict[str, Path]:
    """train/dev/test files of `sizes[split]` examples (MC: questions) drawn from the job's histogram."""
    stats = job(name)
    directory.mkdir(parents=True, exist_ok=True)
    paths = {}
    for offset, (split, size) in enumerate(sizes.items()):
        lengths = sample_lengths(name, size, seed + offset)
        paths[split] = write_split(directory / f"{split}.json", stats["family"], lengths, seed + offset)
    return paths


# ----- one run through the entry path


class BatchLog:
    """Wraps a collator; appends each batch's real row lengths to `path` (one line per batch)."""

    def __init__(self, collator, path: Path):
        self.collator, self.path = collator, str(path)

    def __call__(self, features):
        import torch

        batch = self.collator(features)
        mask = torch.as_tensor(batch["attention_mask"])
        rows = mask.reshape(-1, mask.shape[-1]).sum(dim=1).tolist()
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(" ".join(map(str, rows)) + "\n")
        return batch


def logging_task(family: str, path: Path) -> type:
    from linkbert.finetune.tasks.mc import MultipleChoice
    from linkbert.finetune.tasks.seqcls import SequenceClassification
    from linkbert.finetune.tasks.tokcls import TokenClassification

    base = {"sequence classification": SequenceClassification, "NER": TokenClassification}.get(family, MultipleChoice)

    class Logged(base):
        def collator(self, tokenizer, pad_to_multiple_of):
            return BatchLog(super().collator(tokenizer, pad_to_multiple_of), path)

    return Logged


def setting_flags(setting: str, family: str) -> list[str]:
    """Explicit flags for each setting, so the check does not depend on the entry scripts' defaults."""
    if setting == "original":
        pad = ["--pad_to_max_length"] if family == "sequence classification" else []
        return ["--attn_implementation", "eager", "--optim", "adamw_torch", "--padding_free", "false", *pad]
    fast = ["--optim", "adamw_torch_fused"]
    if setting == "dynamic":
        return [*fast, "--attn_implementation", "sdpa", "--padding_free", "false"]
    return [*fast, "--padding_free", "true"]


def cost_setting(setting: str, family: str) -> Setting:
    """The cost model's view of a setting as it runs on the CPU (fp32: no rounding up to 8)."""
    if setting == "original":
        return original_setting(family, multiple=1)
    return Setting("dynamic") if setting == "dynamic" else Setting("packed", attention="repad")


def run_once(name: str, setting: str, model: Path, paths: dict, out: Path, eval_batch: int = 8) -> dict:
    """One run; its phases' runtimes and the real lengths of each batch it built (train batches first)."""
    from linkbert.finetune.run import run

    stats = job(name)
    family = stats["family"]
    batch = stats["batch"] // OPTIONS if family == "multiple choice" else stats["batch"]
    log = out.parent / f"{out.name}.batches"
    log.unlink(missing_ok=True)
    argv = [
        *flags(
            model_name_or_path=model,
            train_file=paths["train"],
            validation_file=paths["dev"],
            test_file=paths["test"],
            output_dir=out,
            max_seq_length=stats["max_seq_length"],
            per_device_train_batch_size=batch,
            per_device_eval_batch_size=eval_batch,
            num_train_epochs=1,
            learning_rate="2e-5",
            save_strategy="no",
            report_to="none",
            disable_tqdm="true",
            log_level="warning",
            seed=42,
        ),
        *["--do_train", "--do_eval", "--do_predict", "--overwrite_output_dir"],
        *setting_flags(setting, family),
    ]
    status = run(logging_task(family, log), argv)
    if status != 0:
        raise RuntimeError(f"{name} / {setting}: the run exited with status {status} (its error line is above)")
    results = json.loads((out / "all_results.json").read_text())
    batches = [list(map(int, line.split())) for line in log.read_text().splitlines()]
    return {
        "train_seconds": results["train_runtime"],
        "eval_seconds": results["eval_runtime"],
        "predict_seconds": results["test_runtime"],
        "batches": batches,
        "eval_loss": results.get("eval_loss"),
    }


def predicted_flops(name: str, setting: str, batches: list[list[int]], train_batches: int) -> dict:
    """The cost model's FLOPs of the run's own batches: the first `train_batches` train (3 passes),
    the rest evaluate or predict (1 pass)."""
    import numpy as np

    stats = job(name)
    shape = SHAPES["minilm"]
    chosen = cost_setting(setting, stats["family"])
    train = forward = 0.0
    for index, rows in enumerate(batches):
        tokens, squares = batch_work(np.array(rows), stats["max_seq_length"], chosen)
        flops = tokens * shape.linear_flops_per_token() + squares * shape.attention_flops_per_square()
        if index < train_batches:
            train += 3 * flops
        else:
            forward += flops
    return {"train_flops": train, "forward_flops": forward, "flops": train + forward}


# ----- the check


def check(args, tmp: Path) -> dict:
    from linkbert.tools.tiny_bert import build_tiny_bert

    layers, hidden, intermediate = SHAPES["minilm"].layers, SHAPES["minilm"].hidden, SHAPES["minilm"].intermediate
    model = build_tiny_bert(
        tmp / "minilm-shape",
        [" ".join(WORDS)],
        vocab_size=len(WORDS) + 200,
        hidden_size=hidden,
        num_layers=layers,
        num_heads=12,
        intermediate_size=intermediate,
        seed=0,
    )
    data = {}
    for name in args.jobs:
        per = OPTIONS if job(name)["family"] == "multiple choice" else 1
        sizes = {"train": args.train // per, "dev": args.eval // per, "test": args.eval // per}
        data[name] = (write_job_data(tmp / name, name, sizes, seed=7), sizes)
    runs = {name: {setting: [] for setting in args.settings} for name in args.jobs}
    for repeat in range(args.repeats):
        for name in args.jobs:
            for setting in args.settings:  # interleaved, so slow drifts of the machine hit every setting
                started = time.time()
                row = run_once(name, setting, model, data[name][0], tmp / "out", args.eval_batch)
                print(
                    f"[{repeat}] {name} {setting}: train {row['train_seconds']:.2f}s eval {row['eval_seconds']:.2f}s "
                    f"predict {row['predict_seconds']:.2f}s (wall {time.time() - started:.0f}s)",
                    flush=True,
                )
                runs[name][setting].append(row)
    return {name: summarize_job(name, settings, data[name][1]) for name, settings in runs.items()}


def summarize_job(name: str, runs: dict[str, list[dict]], sizes: dict[str, int]) -> dict:
    """Medians per phase, the prediction for the run's batches, and both ratios to the original."""
    stats = job(name)
    batch = stats["batch"] // OPTIONS if stats["family"] == "multiple choice" else stats["batch"]
    train_batches = math.ceil(sizes["train"] / batch)
    out = {"family": stats["family"], "max_seq_length": stats["max_seq_length"], "batch_rows": stats["batch"]}
    out["examples"] = sizes
    settings = {}
    for setting, rows in runs.items():
        phases = {
            phase: statistics.median(row[f"{phase}_seconds"] for row in rows) for phase in ("train", "eval", "predict")
        }
        batches = rows[0]["batches"]
        settings[setting] = {
            "seconds": {**phases, "total": sum(phases.values())},
            "all_seconds": [row["train_seconds"] + row["eval_seconds"] + row["predict_seconds"] for row in rows],
            "eval_loss": [row["eval_loss"] for row in rows],
            "real_tokens": sum(map(sum, batches)),
            **predicted_flops(name, setting, batches, train_batches),
        }
    base = settings.get("original")
    for row in settings.values():
        if base:
            row["measured_vs_original"] = row["seconds"]["total"] / base["seconds"]["total"]
            row["predicted_vs_original"] = row["flops"] / base["flops"]
            row["measured_train_vs_original"] = row["seconds"]["train"] / base["seconds"]["train"]
            row["predicted_train_vs_original"] = row["train_flops"] / base["train_flops"]
    out["settings"] = settings
    return out


TABLE_HEADER = (
    "job",
    "setting",
    "train s",
    "eval+predict s",
    "measured",
    "predicted",
    "train measured",
    "train predicted",
)


def table(results: dict) -> str:
    """Median seconds per phase and, relative to the original setting, measured and predicted cost
    (whole run, then training alone)."""
    lines = ["| " + " | ".join(TABLE_HEADER) + " |", "|---|---|" + "---:|" * (len(TABLE_HEADER) - 2)]
    for name, result in results.items():
        for setting, row in result["settings"].items():
            seconds = row["seconds"]
            ratios = (
                row.get(key, math.nan)
                for key in (
                    "measured_vs_original",
                    "predicted_vs_original",
                    "measured_train_vs_original",
                    "predicted_train_vs_original",
                )
            )
            cells = [name.removesuffix("_hf"), setting, f"{seconds['train']:.1f}"]
            cells += [f"{seconds['eval'] + seconds['predict']:.1f}", *(f"{ratio:.2f}" for ratio in ratios)]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--jobs", default=",".join(DEFAULT_JOBS), help="comma-separated job names of lengths.py")
    parser.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated, from {', '.join(SETTINGS)}")
    parser.add_argument("--train", type=int, default=64, help="training rows per job (MC: 4 rows per question)")
    parser.add_argument("--eval", type=int, default=64, help="rows of the dev split and of the test split")
    parser.add_argument(
        "--eval_batch", type=int, default=8, help="evaluation batch (the recipes leave the Trainer's default, 8)"
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (set OMP_NUM_THREADS too)")
    parser.add_argument("--output", help="write the results as JSON here")
    args = parser.parse_args(argv)
    args.jobs = [name.strip() for name in args.jobs.split(",") if name.strip()]
    args.settings = [name.strip() for name in args.settings.split(",") if name.strip()]
    if not set(args.settings) <= set(SETTINGS) or "original" not in args.settings:
        parser.error(f"--settings: from {', '.join(SETTINGS)}, original included")
    for name in args.jobs:
        if job(name)["family"] not in RECORDS:
            parser.error(f"--jobs {name}: extractive QA is not part of this check")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        results = check(args, Path(tmp))
    print(table(results))
    if args.output:
        report = {"threads": args.threads, "repeats": args.repeats, "torch": torch.__version__, "jobs": results}
        Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
