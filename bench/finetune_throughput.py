"""End-to-end fine-tuning throughput of our real entry path under the original settings and ours.

Runs `linkbert.train.run` (the code behind run_seqcls.py / run_qa.py) for a fixed number of steps on
a randomly initialised BERT and a synthetic dataset whose lengths follow a clipped normal
distribution, once per setting:

  original  fp16 (fp32 on CPU), eager attention, every input padded to max_seq_length, unfused AdamW
  defaults  bf16 where supported, SDPA, dynamic padding, fused AdamW (cuDNN attention off on CUDA)
  compile   defaults + --torch_compile

Timing covers training and one evaluation pass (tokenization excluded: it is cached before timing).
Prints a table and writes JSON with real (non-pad) and padded tokens/s, samples/s, MFU, peak memory
and the ratio to `original`. A second part fine-tunes a learnable synthetic task under `original`
and `defaults` with the same seed and prints both metrics, to show the speed settings do not change
results.

    python bench/finetune_throughput.py --shape tiny --steps 30                     # CPU smoke run
    python bench/finetune_throughput.py --shape base-cls --steps 200 --output bench/results/h100_base_cls.json
    python bench/finetune_throughput.py --shape large-qa --steps 100 --settings original,defaults
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

# (layers, hidden, heads, intermediate, max_seq_length, batch, length mean, length std, min length)
SHAPES = {
    "tiny": (2, 64, 2, 128, 128, 16, 80, 30, 16),
    "base-qa": (12, 768, 12, 3072, 384, 32, 384, 0, 384),  # MRQA SQuAD recipe shape: windows are full
    "base-cls": (12, 768, 12, 3072, 512, 16, 300, 110, 32),  # BLURB pair task: lengths ~ N(300, 110)
    "large-cls": (24, 1024, 16, 4096, 512, 16, 300, 110, 32),
    "large-qa": (24, 1024, 16, 4096, 512, 16, 512, 0, 512),
}
PEAK_BF16_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
WORDS = [f"w{i}" for i in range(500)]


def synthetic_lengths(rng: random.Random, count: int, mean: float, std: float, low: int, high: int) -> list[int]:
    return [int(min(high, max(low, rng.gauss(mean, std)))) for _ in range(count)]


def write_data(directory: Path, lengths: list[int], rng: random.Random, learnable: bool = False) -> Path:
    """Single-sentence examples of exactly the given word counts (each word one token in the tiny
    vocabulary built below); with `learnable`, the label decides
    which half of the vocabulary (even or odd word numbers) the words come from."""
    path = directory / "train.json"
    with open(path, "w", encoding="utf-8") as handle:
        for index, length in enumerate(lengths):
            label = rng.randint(0, 1)
            pool = WORDS[label::2] if learnable else WORDS
            words = [rng.choice(pool) for _ in range(max(1, length - 2))]  # [CLS] and [SEP] make up the length
            handle.write(json.dumps({"id": str(index), "sentence": " ".join(words), "label": str(label)}) + "\n")
    return path


def build_model(directory: Path, shape: str) -> Path:
    from linkbert.tiny import build_tiny_bert

    layers, hidden, heads, intermediate, max_len = SHAPES[shape][:5]
    return build_tiny_bert(
        directory / f"bert-{shape}", [" ".join(WORDS)], vocab_size=len(WORDS) + 200, hidden_size=hidden, num_layers=layers,
        num_heads=heads, intermediate_size=intermediate, max_position_embeddings=512, seed=0,
    )  # fmt: skip


def setting_flags(name: str, cuda: bool, bf16_ok: bool) -> list[str]:
    if name == "original":
        return (["--fp16"] if cuda else []) + ["--attn_implementation", "eager", "--pad_to_max_length", "--optim", "adamw_torch"]
    flags = (["--bf16"] if bf16_ok else []) + ["--attn_implementation", "sdpa", "--optim", "adamw_torch_fused"]
    return flags + (["--torch_compile"] if name == "compile" else [])


def train_flops(model_dir: Path, lengths: list[int]) -> float:
    """Training FLOPs of the useful (non-pad) work: 6 x non-embedding parameters per token for the
    matrix multiplies, plus 12 x layers x hidden x length^2 per sequence for attention scores."""
    config = json.loads((model_dir / "config.json").read_text())
    layers, hidden, inter = config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"]
    per_layer_params = 4 * hidden * hidden + 2 * hidden * inter
    return sum(6 * layers * per_layer_params * n + 12 * layers * hidden * n * n for n in lengths)


def run_setting(name: str, model_dir: Path, data: Path, out: Path, shape: str, steps: int, cuda: bool, bf16_ok: bool, extra: list[str]) -> dict:
    import torch

    from linkbert.tasks.seqcls import SequenceClassification
    from linkbert.train import run

    max_len, batch = SHAPES[shape][4], SHAPES[shape][5]
    argv = [
        "--model_name_or_path", str(model_dir), "--train_file", str(data), "--validation_file", str(data),
        "--do_train", "--do_eval", "--output_dir", str(out), "--overwrite_output_dir", "--max_seq_length", str(max_len),
        "--per_device_train_batch_size", str(batch), "--per_device_eval_batch_size", str(batch), "--max_steps", str(steps),
        "--learning_rate", "2e-5", "--save_strategy", "no", "--report_to", "none", "--disable_tqdm", "true",
        "--log_level", "warning", "--seed", "42", "--max_eval_samples", str(4 * batch),
        "--dataloader_num_workers", "2" if cuda else "0", "--include_num_input_tokens_seen", "true",
        *setting_flags(name, cuda, bf16_ok), *extra,
    ]  # fmt: skip
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    if run(SequenceClassification, argv) != 0:
        raise SystemExit(f"setting {name} failed")
    results = json.loads((out / "all_results.json").read_text())
    state = json.loads((out / "trainer_state.json").read_text())
    return {
        "seconds": results["train_runtime"] + results.get("eval_runtime", 0.0),
        "train_seconds": results["train_runtime"],
        "padded_tokens": state.get("num_input_tokens_seen", 0),
        "peak_memory_gb": (torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024) / 2**30,
        "accuracy": results.get("eval_accuracy"),
    }


def device_info() -> dict:
    import datasets
    import torch
    import transformers

    cuda = torch.cuda.is_available()
    return {
        "device": torch.cuda.get_device_name(0) if cuda else platform.processor() or platform.machine(),
        "cuda": cuda,
        "bf16": cuda and torch.cuda.is_bf16_supported(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "datasets": datasets.__version__,
        "python": platform.python_version(),
    }


def peak_flops(device: str) -> float | None:
    return next((value for key, value in PEAK_BF16_FLOPS.items() if key in device), None)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", choices=SHAPES, default="tiny")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--settings", default="original,defaults,compile")
    parser.add_argument("--learnable_steps", type=int, default=60, help="steps of the same-results check (0 to skip)")
    parser.add_argument("--output", help="write the JSON results here")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="further flags for every run")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    info = device_info()
    _, _, _, _, max_len, batch, mean, std, low = SHAPES[args.shape]
    rng = random.Random(0)
    lengths = synthetic_lengths(rng, args.steps * batch, mean, std, low, max_len)
    report = {"shape": args.shape, "steps": args.steps, "batch": batch, "max_seq_length": max_len, "mean_length": sum(lengths) / len(lengths), **info, "settings": {}}

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = build_model(tmp, args.shape)
        data = write_data(tmp, lengths, random.Random(1))
        flops = train_flops(model_dir, lengths)
        peak = peak_flops(info["device"])
        for name in args.settings.split(","):
            start = time.time()
            row = run_setting(name, model_dir, data, tmp / name, args.shape, args.steps, info["cuda"], info["bf16"], args.extra)
            row.update(
                wall_seconds_incl_setup=time.time() - start,
                real_tokens_per_s=sum(lengths) / row["train_seconds"],
                padded_tokens_per_s=row["padded_tokens"] / row["train_seconds"],
                samples_per_s=len(lengths) / row["seconds"],
                mfu=(flops / row["train_seconds"] / peak) if peak else None,
            )
            report["settings"][name] = row
        base = report["settings"].get("original")
        for row in report["settings"].values():
            row["speedup_vs_original"] = base["seconds"] / row["seconds"] if base else None
        if args.learnable_steps:
            report["same_results"] = same_results_check(tmp, args.shape, args.learnable_steps, info)
    print_report(report)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


def same_results_check(tmp: Path, shape: str, steps: int, info: dict) -> dict:
    """The same seed and data under `original` and `defaults`: the accuracy on a learnable task."""
    _, _, _, _, max_len, batch, mean, std, low = SHAPES[shape]
    rng = random.Random(2)
    lengths = synthetic_lengths(rng, steps * batch, min(mean, 64), min(std, 20), 8, min(max_len, 128))
    directory = tmp / "learnable"
    directory.mkdir()
    data = write_data(directory, lengths, random.Random(3), learnable=True)
    model_dir = build_model(directory, "tiny")
    out = {}
    for name in ("original", "defaults"):
        row = run_setting(name, model_dir, data, tmp / f"learnable-{name}", "tiny", steps, info["cuda"], info["bf16"], ["--learning_rate", "5e-4", "--warmup_steps", "0.1", "--max_eval_samples", "256"])
        out[name] = row["accuracy"]
    return out


def print_report(report: dict) -> None:
    print(f"\n{report['shape']}: {report['steps']} steps x batch {report['batch']}, max length {report['max_seq_length']}, mean real length {report['mean_length']:.0f}")
    print(f"device: {report['device']}  torch {report['torch']}  transformers {report['transformers']}")
    print(f"| {'setting':<9} | {'real tok/s':>11} | {'padded tok/s':>12} | {'samples/s':>9} | {'MFU':>6} | {'peak GB':>7} | {'vs original':>11} |")
    print("|" + "|".join("-" * (w + 2) for w in (9, 11, 12, 9, 6, 7, 11)) + "|")
    for name, row in report["settings"].items():
        mfu = f"{100 * row['mfu']:.1f}%" if row["mfu"] is not None else "n/a"
        ratio = f"{row['speedup_vs_original']:.2f}x" if row["speedup_vs_original"] else "n/a"
        print(f"| {name:<9} | {row['real_tokens_per_s']:11.0f} | {row['padded_tokens_per_s']:12.0f} | {row['samples_per_s']:9.1f} | {mfu:>6} | {row['peak_memory_gb']:7.2f} | {ratio:>11} |")
    if "same_results" in report:
        checks = report["same_results"]
        print(f"same results (learnable task, same seed): accuracy original {checks['original']:.4f}, defaults {checks['defaults']:.4f}")


if __name__ == "__main__":
    main()
