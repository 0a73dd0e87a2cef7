"""A cost model of fine-tuning: tokens processed and FLOPs of one epoch per recipe job and setting.

For every recipe job of bench/lengths.py (13 BLURB tasks, MedQA, SQuAD) it draws an epoch of
lengths from the real histogram, cuts it into the recipe's random batches, and counts for each
setting what the encoder computes:

  original        the original release: pad to max_seq_length (sequence classification, QA) or
                  to the batch's longest input rounded up to 8 under fp16 (NER, multiple choice)
  dynamic         pad every batch to its longest input, rounded up to 8 (bf16/fp16)
  padfree         the encoder runs on the real tokens only, variable-length attention
  padfree-bucket  padding-free with the packed token count rounded up to a multiple of the bucket
                  (fixed [batch, max_seq_length] inputs; the filler is one extra input)
  defaults        what the entry scripts do by default: padfree, except QA (original padding)

The FLOPs are those of the BERT encoder's matrix multiplies, counted separately for the linear
layers (query/key/value/output projections and the feed-forward block: 2 x (4 h^2 + 2 h I) per
token per layer forward) and for attention (scores and weighted values: 4 h n^2 per input of n
positions per layer forward); training is forward + backward = 3 x forward, evaluation forward
only. Embeddings, pooler and heads are left out (under 1% of a BERT-base step). A setting's
predicted time relative to the original is its FLOPs relative to the original's: that holds where
the step is compute-bound (a CPU, or a GPU at large batches), not where kernel launches and
per-shape setup dominate (see ../shared/reference/perf-anchors.md and the README).

    python bench/cost_model.py                      # all jobs, base and large, the table of the README
    python bench/cost_model.py --markdown --output bench/results/cost-model.json
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lengths import job, job_names, sample_lengths  # noqa: E402


@dataclass(frozen=True)
class ModelShape:
    layers: int
    hidden: int
    intermediate: int

    def linear_flops_per_token(self) -> int:
        """Forward FLOPs of one token through every layer's linear maps (2 per multiply-add)."""
        return 2 * self.layers * (4 * self.hidden * self.hidden + 2 * self.hidden * self.intermediate)

    def attention_flops_per_square(self) -> int:
        """Forward FLOPs of attention per (query, key) pair summed over layers: QK^T and AV."""
        return 4 * self.layers * self.hidden


SHAPES = {
    "base": ModelShape(12, 768, 3072),
    "large": ModelShape(24, 1024, 4096),
    "minilm": ModelShape(6, 384, 1536),  # the CPU check's shape (all-MiniLM-L6)
}


@dataclass(frozen=True)
class Setting:
    """How a batch of real lengths becomes encoder work. `padding`: "max" (every row max_seq_length),
    "dynamic" (every row the batch's longest, rounded up to `multiple`) or "packed" (real tokens
    only, the count rounded up to `bucket` with room for at least one filler row). `attention` for
    packed batches: "varlen" (each input attends to itself: n^2 per input) or "repad" (attention on
    the padded [batch, length] copy, as the CPU path does)."""

    padding: str
    multiple: int = 1
    bucket: int = 0
    attention: str = "varlen"


def original_setting(family: str, multiple: int = 8) -> Setting:
    """The original release: fixed padding for sequence classification and QA, dynamic for NER and
    multiple choice (its fp16 recipes round those up to a multiple of 8)."""
    fixed = family in ("sequence classification", "extractive QA")
    return Setting("max") if fixed else Setting("dynamic", multiple=multiple)


def default_setting(family: str, attention: str = "varlen") -> Setting:
    """The entry scripts' defaults: padding-free for sequence classification, NER and multiple
    choice; QA pads its windows to max_seq_length (its loss sees the padding)."""
    return Setting("max") if family == "extractive QA" else Setting("packed", attention=attention)


def named_settings(family: str, bucket: int = 1024, multiple: int = 8, attention: str = "varlen") -> dict:
    return {
        "original": original_setting(family, multiple),
        "dynamic": Setting("dynamic", multiple=multiple),
        "padfree": Setting("packed", attention=attention),
        "padfree-bucket": Setting("packed", bucket=bucket, attention=attention),
        "defaults": default_setting(family, attention),
    }


def round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def batch_work(lengths: np.ndarray, max_seq_length: int, setting: Setting) -> tuple[int, int]:
    """(positions through the linear layers, (query, key) pairs of attention) of one batch."""
    rows = len(lengths)
    longest = round_up(int(lengths.max()), setting.multiple) if setting.padding != "max" else max_seq_length
    longest = min(longest, max_seq_length) if setting.padding == "dynamic" else longest
    if setting.padding in ("max", "dynamic"):
        return rows * longest, rows * longest * longest
    real = int(lengths.sum())
    if setting.bucket:
        tokens = round_up(real + 1, setting.bucket)
        filler = tokens - real
        padded_length = max_seq_length  # bucketed inputs have the fixed shape [batch, max_seq_length]
    else:
        tokens, filler, padded_length = real, 0, int(lengths.max())
    if setting.attention == "repad":
        return tokens, rows * padded_length * padded_length
    return tokens, int((lengths.astype(np.int64) ** 2).sum()) + filler * filler


def epoch_batches(lengths: np.ndarray, batch: int) -> list[np.ndarray]:
    """The epoch's batches in order (the lengths are already in random order); the last may be short."""
    return [lengths[start : start + batch] for start in range(0, len(lengths), batch)]


def epoch_cost(
    lengths: np.ndarray, batch: int, max_seq_length: int, setting: Setting, shape: ModelShape, passes: int = 3
) -> dict:
    """Tokens and FLOPs of running every batch once; `passes` 3 for training (forward + backward),
    1 for evaluation."""
    tokens = squares = 0
    for rows in epoch_batches(lengths, batch):
        linear, attention = batch_work(rows, max_seq_length, setting)
        tokens += linear
        squares += attention
    linear_flops = passes * tokens * shape.linear_flops_per_token()
    attention_flops = passes * squares * shape.attention_flops_per_square()
    return {
        "real_tokens": int(lengths.sum()),
        "tokens": tokens,
        "linear_flops": float(linear_flops),
        "attention_flops": float(attention_flops),
        "flops": float(linear_flops + attention_flops),
    }


def job_costs(name: str, shape: ModelShape, settings: dict, seed: int = 0) -> dict:
    """One epoch of the job (as many examples as its real split) under each setting, with each
    setting's FLOPs relative to the original's."""
    stats = job(name)
    lengths = sample_lengths(name, stats["n"], seed)
    costs = {
        key: epoch_cost(lengths, stats["batch"], stats["max_seq_length"], setting, shape)
        for key, setting in settings.items()
    }
    for row in costs.values():
        row["vs_original"] = row["flops"] / costs["original"]["flops"]
    return costs


def model_table(shape_names: list[str], bucket: int, seed: int = 0) -> dict:
    """{shape: {job: {setting: cost}}} for every job of the statistics file."""
    table = {}
    for shape_name in shape_names:
        table[shape_name] = {
            name: job_costs(name, SHAPES[shape_name], named_settings(job(name)["family"], bucket), seed)
            for name in job_names()
        }
    return table


def markdown(table: dict, settings: tuple[str, ...] = ("dynamic", "padfree", "padfree-bucket", "defaults")) -> str:
    """Per job: family, max length/batch, real-token fraction under the original, and each
    setting's predicted speedup over the original (original FLOPs / setting FLOPs) per shape."""
    shapes = list(table)
    header = ["job", "family", "max len / batch", "real frac (orig)"] + [
        f"{setting} ({shape})" for setting in settings for shape in shapes
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 4 + "---:|" * (len(header) - 4)]
    for name in table[shapes[0]]:
        stats = job(name)
        first = table[shapes[0]][name]["original"]
        cells = [
            name.removesuffix("_hf"),
            stats["family"],
            f"{stats['max_seq_length']} / {stats['batch']}",
            f"{first['real_tokens'] / first['tokens']:.2f}",
        ]
        cells += [f"{1 / table[shape][name][setting]['vs_original']:.2f}x" for setting in settings for shape in shapes]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--shapes", default="base,large", help=f"comma-separated, from {', '.join(SHAPES)}")
    parser.add_argument("--bucket", type=int, default=1024, help="the padfree-bucket setting's bucket, in tokens")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true", help="print the README's Markdown table")
    parser.add_argument("--output", help="write every count as JSON here")
    args = parser.parse_args(argv)
    shape_names = [name.strip() for name in args.shapes.split(",") if name.strip()]
    unknown = [name for name in shape_names if name not in SHAPES]
    if unknown or args.bucket < 1:
        parser.error(f"--shapes: unknown {', '.join(unknown)}" if unknown else "--bucket must be positive")
    table = model_table(shape_names, args.bucket, args.seed)
    print(markdown(table) if args.markdown else text_report(table))
    if args.output:
        settings = {name: asdict(s) for name, s in named_settings("extractive QA", args.bucket).items()}
        report = {"shapes": {name: asdict(SHAPES[name]) for name in shape_names}, "bucket": args.bucket}
        report.update(seed=args.seed, qa_settings=settings, costs=table)
        Path(args.output).write_text(json.dumps(report, indent=1) + "\n")
    return 0


def text_report(table: dict) -> str:
    """Plain lines: per shape and job, each setting's tokens (relative to the real ones), attention
    share of FLOPs, and FLOPs relative to the original."""
    lines = []
    for shape, jobs in table.items():
        lines.append(f"== {shape}: epoch FLOPs relative to the original settings (tokens / real tokens, attention %)")
        for name, costs in jobs.items():
            parts = [
                f"{setting} {row['vs_original']:.3f} ({row['tokens'] / row['real_tokens']:.2f}, "
                f"{100 * row['attention_flops'] / row['flops']:.0f}%)"
                for setting, row in costs.items()
            ]
            lines.append(f"{name:18s} " + "  ".join(parts))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
