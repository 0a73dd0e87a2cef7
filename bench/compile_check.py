"""What torch.compile makes of a fine-tuning step over one epoch of real lengths: graph breaks,
graphs compiled, recompilations and the distinct input shapes the compiled step is shown, for the
padded model and the padding-free one with and without bucketing.

The step is the one training runs: inductor by default (`--backend eager` traces without code
generation, seconds on a CPU), under bf16 / fp16 autocast (`--dtype`), forward and backward, with
batches built by the run's own collators (PaddingCollator, then the padding-free metadata; with a
bucket, inputs padded to max_seq_length, linkbert.finetune.padding_free.input_pad_multiple). Lengths
are drawn from a benchmark's real length histogram (`--job`, bench/lengths.py), else from a skewed
synthetic spread. Recompilations are read from torch's compilation metrics (one record per compiled
frame, `recompile_reason` set on each recompilation), which torch 2.13 fills on every backend.

`--dynamic false` compiles one graph per input shape, which is also what CUDA graphs
(`--torch_compile_mode reduce-overhead`) record: the count bucketing exists to bound. With the
default (`--dynamic auto`) dynamo turns a changing dimension symbolic after its first recompile.

On CUDA it also counts the host synchronisations of one eager step (torch.cuda.set_sync_debug_mode).

    python bench/compile_check.py --backend eager --dynamic false          # CPU, seconds per variant
    python bench/compile_check.py --device cuda --dtype bf16 --job chemprot --output bench/results/x.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import Counter
from pathlib import Path

VARIANTS = ("padded", "padding_free", "padding_free_bucketed")
SHAPE_KEYS = ("input_ids", "unpad_indices", "cu_seqlens")


def skewed_lengths(count: int, max_length: int, seed: int) -> list[int]:
    """Mostly short inputs with a long tail, like the NER and relation histograms."""
    rng = random.Random(seed)
    return [min(max_length, 4 + int(rng.expovariate(1 / (max_length / 5)))) for _ in range(count)]


def job_lengths(job: str, count: int, seed: int) -> tuple[list[int], int, int]:
    """(lengths, max_seq_length, batch) of a benchmark's real histogram, via bench/lengths.py."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import lengths as length_stats

    recipe = length_stats.job(job)
    max_length = recipe["max_seq_length"]
    drawn = length_stats.sample_lengths(job, count, seed)
    return [max(2, min(int(n), max_length)) for n in drawn], max_length, recipe["batch"]


def epoch_batches(lengths: list[int], batch: int, seed: int) -> list[list[dict]]:
    """One epoch of features (token ids 5..99, [CLS]=2 / [SEP]=3 at the ends) in a seeded random
    order, cut into batches; the last batch may be smaller, as the Trainer's is."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    features = []
    for index in order:
        n = lengths[index]
        ids = [2, *(rng.randint(5, 99) for _ in range(n - 2)), 3] if n >= 2 else [2]
        features.append({"input_ids": ids, "attention_mask": [1] * len(ids), "labels": index % 3})
    return [features[start : start + batch] for start in range(0, len(features), batch)]


def tiny_model(device: str):
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=512,
        num_labels=3,
        problem_type="single_label_classification",  # as the run's config sets it (unset, the first step mutates it)
        attn_implementation="sdpa",
    )
    return BertForSequenceClassification(config).to(device)


def variant_collator(model, variant: str, max_length: int, bucket: int, pad_multiple: int | None, device: str):
    """The run's collator chain for a variant (as linkbert.finetune.run builds it, compiled)."""
    from linkbert.finetune.collator import PaddingCollator
    from linkbert.finetune.padding_free import input_pad_multiple, make_padding_free

    if variant == "padded":
        return PaddingCollator(pad_token_id=0, pad_to_multiple_of=pad_multiple)
    variant_bucket = bucket if variant == "padding_free_bucketed" else None
    inner = PaddingCollator(
        pad_token_id=0, pad_to_multiple_of=input_pad_multiple(pad_multiple, variant_bucket, max_length)
    )
    return make_padding_free(model, inner, "auto", variant_bucket, device_type=device.split(":")[0], compiled=True)


def eager_host_syncs(model, inputs: dict) -> int:
    """Device-to-host synchronisations of one eager forward + backward on CUDA."""
    import warnings

    import torch

    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            model(**inputs).loss.backward()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    model.zero_grad()
    return sum("synchroniz" in str(warning.message) for warning in caught)


def check(
    variant: str,
    lengths: list[int],
    batch: int,
    max_length: int,
    bucket: int,
    *,
    backend: str = "inductor",
    dynamic: bool | None = None,
    dtype: str = "fp32",
    device: str = "cpu",
    seed: int = 0,
) -> dict:
    """Compile a training step and run it over one epoch of `lengths`; what the compiler saw."""
    import torch
    import torch._dynamo
    from torch._dynamo.utils import clear_compilation_metrics, counters, get_compilation_metrics

    if variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}: expected one of {', '.join(VARIANTS)}")
    torch._dynamo.reset()
    counters.clear()
    clear_compilation_metrics()
    torch._dynamo.config.recompile_limit = max(torch._dynamo.config.recompile_limit, len(lengths))
    model = tiny_model(device)
    autocast_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": None}[dtype]
    pad_multiple = 8 if autocast_dtype is not None else None  # as the run pads under bf16 / fp16
    collate = variant_collator(model, variant, max_length, bucket, pad_multiple, device)
    batches = [collate(features) for features in epoch_batches(lengths, batch, seed)]
    shapes = {key: sorted({tuple(b[key].shape) for b in batches if key in b}) for key in SHAPE_KEYS}

    def to_device(b: dict) -> dict:
        return {key: value.to(device) if torch.is_tensor(value) else value for key, value in b.items()}

    syncs = eager_host_syncs(model, to_device(batches[0])) if device.startswith("cuda") else None
    compiled = torch.compile(model, backend=backend, dynamic=dynamic)
    for b in batches:
        with torch.autocast(device.split(":")[0], dtype=autocast_dtype, enabled=autocast_dtype is not None):
            loss = compiled(**to_device(b)).loss
        loss.backward()
    records = [record for record in get_compilation_metrics() if record.fail_type is None]
    return {
        "batches": len(batches),
        "distinct_shapes": {key: len(value) for key, value in shapes.items() if value},
        "shapes": {key: [list(shape) for shape in value] for key, value in shapes.items() if value},
        "graphs_compiled": len(records),
        "recompilations": sum(record.recompile_reason is not None for record in records),
        "recompile_reasons": dict(
            Counter(record.recompile_reason.splitlines()[0][:120] for record in records if record.recompile_reason)
        ),
        "graph_breaks": sum(counters["graph_break"].values()),
        "break_reasons": sorted({reason.splitlines()[0][:160] for reason in counters["graph_break"]}),
        "host_syncs_per_eager_step": syncs,
    }


def dynamic_flag(text: str) -> bool | None:
    choices = {"auto": None, "true": True, "false": False}
    if text not in choices:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(choices)}, got {text!r}")
    return choices[text]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--job", help="draw lengths from this benchmark's histogram (bench/lengths.py job name)")
    parser.add_argument("--examples", type=int, default=256, help="examples in the epoch")
    parser.add_argument("--batch", type=int, help="default: the job's recipe batch, else 16")
    parser.add_argument("--max_length", type=int, default=128, help="without --job")
    parser.add_argument("--bucket", type=int, default=256, help="--padding_free_bucket of the bucketed variant")
    parser.add_argument("--backend", default="inductor", help="torch.compile backend (inductor is what training runs)")
    parser.add_argument("--dynamic", type=dynamic_flag, default=None, help="torch.compile dynamic=: auto, true, false")
    parser.add_argument("--dtype", choices=("bf16", "fp16", "fp32"), default=None, help="default: bf16 on CUDA")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, from {', '.join(VARIANTS)}")
    parser.add_argument("--output", help="write the JSON report here")
    args = parser.parse_args(argv)
    if args.job:
        lengths, max_length, batch = job_lengths(args.job, args.examples, seed=0)
    else:
        lengths, max_length, batch = skewed_lengths(args.examples, args.max_length, seed=0), args.max_length, 16
    batch = args.batch or batch
    dtype = args.dtype or ("bf16" if args.device.startswith("cuda") else "fp32")
    report = {"job": args.job, "examples": len(lengths), "batch": batch, "max_length": max_length}
    report.update(bucket=args.bucket, backend=args.backend, dynamic=args.dynamic, dtype=dtype, variants={})
    for variant in args.variants.split(","):
        row = check(
            variant,
            lengths,
            batch,
            max_length,
            args.bucket,
            backend=args.backend,
            dynamic=args.dynamic,
            dtype=dtype,
            device=args.device,
        )
        report["variants"][variant] = row
        syncs = row["host_syncs_per_eager_step"]
        print(
            f"{variant:<22} graphs {row['graphs_compiled']:>3}  recompilations {row['recompilations']:>3}  "
            f"graph breaks {row['graph_breaks']:>3}  input shapes {row['distinct_shapes']}"
            + ("" if syncs is None else f"  host syncs per eager step {syncs}")
        )
        for reason in row["break_reasons"]:
            print(f"    break: {reason}")
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
