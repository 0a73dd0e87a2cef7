"""Host time per training batch spent building it: the HuggingFace collators vs linkbert's PaddingCollator.

With the Trainer's default of no dataloader workers, every batch is fetched from the Arrow dataset
and collated on the training process between two GPU steps, so at the recipes' batch sizes this
time adds to each step. Measured for the recipe shapes, on features with random lengths, both for
collation alone and for a whole DataLoader batch (dataset fetch + collation).

    python bench/collate_speed.py --output bench/results/cpu-2core-collate.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from pathlib import Path

# name -> (batch size, max length, options per example or None, HF collator kind)
SHAPES = {
    "qa-384x32": (32, 384, None, "padding"),
    "cls-512x16": (16, 512, None, "padding"),
    "ner-512x32": (32, 512, None, "token"),
    "mc-512x16x4": (16, 512, 4, "choice"),
}


def make_features(rng: random.Random, count: int, max_length: int, options: int | None, kind: str) -> list[dict]:
    def tokens(length):
        return {
            "input_ids": [rng.randint(5, 28000) for _ in range(length)],
            "token_type_ids": [0] * length,
            "attention_mask": [1] * length,
        }

    features = []
    for _ in range(count):
        if options:
            per_option = [tokens(rng.randint(32, max_length)) for _ in range(options)]
            feature = {key: [option[key] for option in per_option] for key in per_option[0]}
            feature["labels"] = rng.randint(0, options - 1)
        else:
            feature = tokens(rng.randint(32, max_length))
            feature["labels"] = (
                [rng.choice([-100, 0, 1, 2]) for _ in feature["input_ids"]] if kind == "token" else rng.randint(0, 1)
            )
        features.append(feature)
    return features


def hf_collator(tokenizer, kind: str):
    from transformers import DataCollatorForTokenClassification, DataCollatorWithPadding

    if kind == "token":
        return DataCollatorForTokenClassification(tokenizer, pad_to_multiple_of=8)
    padding = DataCollatorWithPadding(tokenizer, pad_to_multiple_of=8)
    if kind == "padding":
        return padding

    def choice(features):  # the original's: flatten the options, pad them together, reshape
        import torch

        options = len(features[0]["input_ids"])
        flat = [
            {key: value[option] for key, value in feature.items() if key != "labels"}
            for feature in features
            for option in range(options)
        ]
        batch = {key: tensor.view(len(features), options, -1) for key, tensor in padding(flat).items()}
        batch["labels"] = torch.tensor([feature["labels"] for feature in features])
        return batch

    return choice


def per_call_ms(function, repeats: int) -> float:
    function()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return 1000 * (time.perf_counter() - start) / repeats


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--repeats", type=int, default=50)
    parser.add_argument("--output")
    args = parser.parse_args(argv)

    import datasets
    import torch
    import transformers
    from torch.utils.data import DataLoader

    from linkbert.finetune.collator import PaddingCollator
    from linkbert.tools.tiny_bert import build_tiny_bert

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tokenizer = transformers.AutoTokenizer.from_pretrained(
            build_tiny_bert(Path(tmp) / "tiny", ["a b c"], vocab_size=40, seed=0)
        )
    rng = random.Random(0)
    report = {
        "device": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "shapes": {},
    }
    print("| shape | HF collate ms | ours ms | HF whole batch ms | ours whole batch ms |")
    print("|---|---:|---:|---:|---:|")
    for name, (batch, max_length, options, kind) in SHAPES.items():
        features = make_features(rng, batch * 8, max_length, options, kind)
        theirs, ours = (
            hf_collator(tokenizer, kind),
            PaddingCollator.for_tokenizer(tokenizer, 8, token_labels=kind == "token"),
        )
        one_batch = features[:batch]
        row = {
            "hf_collate_ms": per_call_ms(lambda c=theirs, b=one_batch: c([dict(f) for f in b]), args.repeats),
            "ours_collate_ms": per_call_ms(lambda c=ours, b=one_batch: c(b), args.repeats),
        }
        dataset = datasets.Dataset.from_list(features)
        for label, collator in (("hf", theirs), ("ours", ours)):
            loader = DataLoader(dataset, batch_size=batch, shuffle=True, collate_fn=collator)
            row[f"{label}_whole_batch_ms"] = per_call_ms(
                lambda loader=loader: sum(1 for _ in loader), max(1, args.repeats // 8)
            ) / len(loader)
        report["shapes"][name] = row
        print(
            f"| {name} | {row['hf_collate_ms']:.2f} | {row['ours_collate_ms']:.2f} | {row['hf_whole_batch_ms']:.2f} "
            f"| {row['ours_whole_batch_ms']:.2f} |"
        )
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
