"""How well torch.compile captures a fine-tuning step: graph breaks and recompilations over batches
of varying length, for the padded model and the padding-free one (with and without bucketing).

On CUDA it first counts the host synchronisations of one eager step (torch.cuda.set_sync_debug_mode).
A graph break splits the compiled step into pieces with Python (and often a host sync) in between; a
recompilation per new shape costs seconds each time. Both show up here within a few steps, before
any long benchmark is spent on a setting. Uses dynamo with the "eager" backend (no code generation),
so it runs in seconds on a CPU too; the graph breaks on CPU differ from CUDA's where a kernel has
no CPU version (PyTorch's CPU attention on jagged tensors, --attention varlen, falls back to a
per-input loop that breaks the graph; the default on CPU is repad, which compiles whole).

    python bench/compile_check.py                       # all three variants, BERT-tiny, 12 steps
    python bench/compile_check.py --device cuda --attention varlen --bucket 256
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path


def make_batch(rng: random.Random, batch: int, max_length: int, device: str):
    import torch

    length = rng.randint(max_length // 2, max_length)  # dynamic padding: a new batch length each step
    lengths = torch.tensor([length] + [rng.randint(4, length) for _ in range(batch - 1)])
    mask = (torch.arange(length)[None, :] < lengths[:, None]).long()
    input_ids = torch.randint(5, 100, (batch, length)) * mask
    return {"input_ids": input_ids, "attention_mask": mask, "labels": torch.randint(0, 3, (batch,))}


def check(variant: str, steps: int, batch: int, max_length: int, bucket: int, device: str, attention: str) -> dict:
    import torch
    import torch._dynamo
    from torch._dynamo.utils import counters
    from transformers import BertConfig, BertForSequenceClassification

    from linkbert.finetune.padding_free import PaddingFreeCollator, enable_padding_free

    torch._dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        num_labels=3,
        attn_implementation="sdpa",
    )
    model = BertForSequenceClassification(config).to(device)
    collate = dict
    if variant != "padded":
        variant_bucket = bucket if variant == "padding_free_bucketed" else None
        enable_padding_free(model, attention, variant_bucket)
        collate = PaddingFreeCollator(dict, variant_bucket)
    rng = random.Random(0)
    syncs = None
    if device.startswith("cuda"):
        # one eager step with every device-to-host synchronisation reported as a warning
        import warnings

        inputs = {key: value.to(device) for key, value in collate(make_batch(rng, batch, max_length, "cpu")).items()}
        torch.cuda.synchronize()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                model(**inputs).loss.backward()
            finally:
                torch.cuda.set_sync_debug_mode("default")
        syncs = sum("synchroniz" in str(warning.message) for warning in caught)
    compiled = torch.compile(model, backend="eager")
    for _ in range(steps):
        inputs = {key: value.to(device) for key, value in collate(make_batch(rng, batch, max_length, "cpu")).items()}
        compiled(**inputs).loss.backward()
    return {
        "host_syncs_per_eager_step": syncs,
        "graph_breaks": sum(counters["graph_break"].values()),
        "break_reasons": sorted({reason.splitlines()[0][:160] for reason in counters["graph_break"]}),
        "frames_compiled": counters["stats"]["unique_graphs"],
        "recompilations": sum(counters["recompiles"].values()) if "recompiles" in counters else None,
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max_length", type=int, default=64)
    parser.add_argument("--bucket", type=int, default=128, help="--padding_free_bucket of the bucketed variant")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--attention",
        default="auto",
        choices=["auto", "varlen", "repad"],
        help="--padding_free_attention of the padding-free variants",
    )
    parser.add_argument("--output", help="write the JSON report here")
    args = parser.parse_args(argv)
    report = {}
    for variant in ("padded", "padding_free", "padding_free_bucketed"):
        report[variant] = check(
            variant, args.steps, args.batch, args.max_length, args.bucket, args.device, args.attention
        )
        row = report[variant]
        syncs = (
            ""
            if row["host_syncs_per_eager_step"] is None
            else f"   host syncs per eager step {row['host_syncs_per_eager_step']}"
        )
        print(
            f"{variant:<22} graph breaks {row['graph_breaks']:>3}   graphs compiled {row['frames_compiled']:>3}{syncs}"
        )
        for reason in row["break_reasons"]:
            print(f"    break: {reason}")
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
