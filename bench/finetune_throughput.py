"""End-to-end fine-tuning throughput of our real entry path under the original settings and ours.

Runs `linkbert.finetune.run.run` (the code behind run_seqcls.py / run_qa.py) for a fixed number of steps on
a randomly initialised BERT and a synthetic dataset whose lengths are drawn from a recipe job's real
length histogram (`--job`, bench/lengths.py; by default the shape's job in DEFAULT_JOBS, whose
max_seq_length and batch the run takes too; the tiny CPU shapes and the full-window QA shapes keep
synthetic lengths), once per setting. The `squad-base` shape is the MRQA SQuAD recipe through the QA
task (batch 12, windows of 384, evaluation with n-best decoding; QA pads to max_seq_length by
default, as the original); the others go through sequence classification:

  original         fp16 (fp32 on CPU), eager attention, every input padded to max_seq_length, unfused AdamW
  defaults         our defaults: bf16 where supported, SDPA, dynamic padding, fused AdamW (cuDNN attention
                   off on CUDA), and the encoder padding-free for sequence classification (not for QA)
  compile          defaults + --torch_compile
  dynamic          defaults + --no_padding_free (the padded encoder on dynamically padded batches)
  padfree          defaults + --padding_free (padding-free for QA too)
  padfree-compile  defaults + --padding_free + --torch_compile

Each setting runs in a process of its own (this script re-invoked with --one_setting), so nothing one
setting switches (the cuDNN attention backend, dynamo's caches and recompile limit, CUDA allocator
state, autotuning) leaks into the next; the parent builds the model and data once and collects each
process's row. Timing covers training and one evaluation pass (tokenization excluded: it is cached
before timing).
Prints a table and writes JSON with real (non-pad), padded and encoder tokens/s, samples/s, MFU,
peak memory and the ratio to `original`. A second part fine-tunes a learnable synthetic task under
`original`, `dynamic` and `defaults` with the same seed and prints each one's accuracy and
eval_loss, to show the speed settings do not change results.

Token counts are measured, not asked of the Trainer (its --include_num_input_tokens_seen would add a
`.item()` host sync to every step). The task's collator is wrapped by `BatchRecorder`, which appends
one line per collated batch, "padded real" (the size of the [batch, length] input_ids and the sum
of the attention mask, both CPU tensors), to a file; it runs wherever the Trainer collates (main
process or dataloader workers), so the counts come from the very batches the Trainer built, with its
seeded shuffling and the padding the run chose (max_seq_length under --pad_to_max_length, else each
batch's longest input, rounded up to a multiple of 8 under bf16/fp16). Every training batch is
collated before evaluation starts, so the last ceil(eval_samples / batch) lines are evaluation's and
the rest training's; this is exact because the synthetic train set is exactly `steps` batches (one
epoch, nothing prefetched beyond it), which `run_setting` checks against the lines it reads.
Encoder tokens are what the encoder layers process: the padded tokens, or the real ones under
--padding_free.

    python bench/finetune_throughput.py --shape tiny --steps 30                     # CPU smoke run
    python bench/finetune_throughput.py --shape base-cls --steps 200 --output bench/results/h100_base_cls.json
    python bench/finetune_throughput.py --shape large-qa --steps 100 --settings original,defaults,padfree
    python bench/summarize.py                                                       # Markdown tables of bench/results/
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import resource
import sys
import tempfile
import time
import traceback
from pathlib import Path

from linkbert.cli import flags

# (layers, hidden, heads, intermediate, max_seq_length, batch, length mean, length std, min length)
SHAPES = {
    "tiny": (2, 64, 2, 128, 128, 16, 80, 30, 16),
    "base-qa": (12, 768, 12, 3072, 384, 32, 384, 0, 384),  # MRQA SQuAD recipe shape: windows are full
    "base-cls": (12, 768, 12, 3072, 512, 16, 300, 110, 32),  # by default ChemProt's recipe and lengths
    "large-cls": (24, 1024, 16, 4096, 512, 16, 300, 110, 32),
    "large-qa": (24, 1024, 16, 4096, 512, 16, 512, 0, 512),
    # the MRQA SQuAD recipe itself through run_qa: batch 12, windows of 384, question + context
    # ~ N(175, 60) tokens (SQuAD v1.1 paragraphs), evaluation with n-best decoding
    "squad-base": (12, 768, 12, 3072, 384, 12, 175, 60, 64),
    "tiny-qa": (2, 64, 2, 128, 128, 16, 80, 30, 24),
}
QA_SHAPES = {"squad-base", "tiny-qa"}  # the others run run_seqcls on single sentences
# the recipe job whose real length histogram (bench/lengths.py), max_seq_length and batch a shape
# uses unless --job names another; the other shapes keep their synthetic lengths (the tiny CPU
# smoke shapes, and base-qa / large-qa: full windows, to compare with the perf anchors)
DEFAULT_JOBS = {"base-cls": "chemprot_hf", "large-cls": "chemprot_hf", "squad-base": "squad_hf"}
QUESTION_WORDS = 10
SETTINGS = ("original", "defaults", "compile", "dynamic", "padfree", "padfree-compile")
SAME_RESULTS_SETTINGS = ("original", "dynamic", "defaults")
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


def write_qa_data(directory: Path, lengths: list[int], rng: random.Random) -> Path:
    """SQuAD-style records whose question + context + 3 special tokens make up the given lengths
    (each word one token), so that every example is exactly one window: the answer is a 2-word span
    of the context."""
    path = directory / "train.json"
    with open(path, "w", encoding="utf-8") as handle:
        for index, length in enumerate(lengths):
            question = " ".join(rng.choice(WORDS) for _ in range(QUESTION_WORDS))
            context_words = [rng.choice(WORDS) for _ in range(max(4, length - QUESTION_WORDS - 3))]
            first = rng.randrange(len(context_words) - 1)
            context = " ".join(context_words)
            start = len(" ".join(context_words[:first])) + (1 if first else 0)
            answer = " ".join(context_words[first : first + 2])
            record = {
                "id": str(index),
                "question": question,
                "context": context,
                "answers": {"text": [answer], "answer_start": [start]},
            }
            handle.write(json.dumps(record) + "\n")
    return path


def build_model(directory: Path, shape: str) -> Path:
    from linkbert.tools.tiny_bert import build_tiny_bert

    layers, hidden, heads, intermediate, max_len = SHAPES[shape][:5]
    return build_tiny_bert(
        directory / f"bert-{shape}",
        [" ".join(WORDS)],
        vocab_size=len(WORDS) + 200,
        hidden_size=hidden,
        num_layers=layers,
        num_heads=heads,
        intermediate_size=intermediate,
        max_position_embeddings=512,
        seed=0,
    )


def setting_flags(name: str, cuda: bool, bf16_ok: bool) -> list[str]:
    """The command-line flags of one setting (one of SETTINGS)."""
    if name not in SETTINGS:
        raise ValueError(f"unknown setting {name!r}: expected one of {', '.join(SETTINGS)}")
    if name == "original":
        return (["--fp16"] if cuda else []) + [
            "--attn_implementation",
            "eager",
            "--pad_to_max_length",
            "--optim",
            "adamw_torch",
        ]
    flags = (["--bf16"] if bf16_ok else []) + ["--attn_implementation", "sdpa", "--optim", "adamw_torch_fused"]
    if name in ("padfree", "padfree-compile"):
        flags.append("--padding_free")
    if name == "dynamic":
        flags.append("--no_padding_free")
    if name in ("compile", "padfree-compile"):
        flags.append("--torch_compile")
    return flags


def settings_list(text: str) -> list[str]:
    """argparse type of --settings: comma-separated names from SETTINGS, each at most once."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SETTINGS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown setting(s) {', '.join(unknown) or '(none given)'}; valid settings: {', '.join(SETTINGS)}"
        )
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"a setting is named twice in {text!r}")
    return names


def is_padding_free(shape: str, argv: list[str]) -> bool:
    """Whether a run packs its encoder input, as linkbert.finetune.args resolves it from the flags and
    the task's default (padding-free by default for sequence classification, not for QA)."""
    from linkbert.finetune.args import parse_args

    model_args, _, _ = parse_args(recording_task(Path(os.devnull), shape).data_args_class, list(argv))
    return bool(model_args.padding_free)


class BatchRecorder:
    """Wraps a collator; appends one line per batch it builds to `path`: the padded length, then
    each row's real length (one short write per batch, in whichever process collates: no device
    work, no host sync)."""

    def __init__(self, collator, path: Path):
        self.collator = collator
        self.path = str(path)

    def __call__(self, features):
        import torch

        batch = self.collator(features)
        mask = torch.as_tensor(batch["attention_mask"])
        rows = mask.reshape(-1, mask.shape[-1])
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(" ".join(map(str, [rows.shape[1], *rows.sum(dim=1).tolist()])) + "\n")
        return batch


def recording_task(path: Path, shape: str) -> type:
    """The shape's task (ExtractiveQA or SequenceClassification) with its collator (built inside
    `run`, after padding is chosen) wrapped in a BatchRecorder writing to `path`."""
    from linkbert.finetune.tasks.qa import ExtractiveQA
    from linkbert.finetune.tasks.seqcls import SequenceClassification

    class Recording(ExtractiveQA if shape in QA_SHAPES else SequenceClassification):
        def collator(self, tokenizer, pad_to_multiple_of):
            return BatchRecorder(super().collator(tokenizer, pad_to_multiple_of), path)

    return Recording


def train_flops(model_dir: Path, lengths: list[int]) -> float:
    """Training FLOPs of the useful (non-pad) work: 6 x non-embedding parameters per token for the
    matrix multiplies, plus 12 x layers x hidden x length^2 per sequence for attention scores."""
    config = json.loads((model_dir / "config.json").read_text())
    layers, hidden, inter = config["num_hidden_layers"], config["hidden_size"], config["intermediate_size"]
    per_layer_params = 4 * hidden * hidden + 2 * hidden * inter
    return sum(6 * layers * per_layer_params * n + 12 * layers * hidden * n * n for n in lengths)


def run_setting(
    name: str,
    model_dir: Path,
    data: Path,
    out: Path,
    shape: str,
    steps: int,
    cuda: bool,
    bf16_ok: bool,
    extra: list[str],
    recipe: tuple[int, int] | None = None,
) -> dict:
    """One setting through linkbert.finetune.run.run; `recipe` = (max_seq_length, batch), by default
    the shape's."""
    import torch

    from linkbert.finetune.run import run

    max_len, batch = recipe or (SHAPES[shape][4], SHAPES[shape][5])
    argv = [
        *flags(
            model_name_or_path=model_dir,
            train_file=data,
            validation_file=data,
            do_train=True,
            do_eval=True,
            output_dir=out,
            overwrite_output_dir=True,
            max_seq_length=max_len,
            per_device_train_batch_size=batch,
            per_device_eval_batch_size=batch,
            max_steps=steps,
            learning_rate=2e-5,
            save_strategy="no",
            report_to="none",
            disable_tqdm="true",
            log_level="warning",
            seed=42,
            max_eval_samples=4 * batch,
            dataloader_num_workers="2" if cuda else "0",
        ),
        *(["--doc_stride", str(max_len // 3)] if shape in QA_SHAPES else []),
        *setting_flags(name, cuda, bf16_ok),
        *extra,
    ]
    batches_file = out.parent / f"{out.name}.batches"
    batches_file.unlink(missing_ok=True)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    status = run(recording_task(batches_file, shape), argv)
    if status != 0:
        raise RuntimeError(
            f"setting {name}: linkbert.finetune.run.run exited with status {status} (its error line is above)"
        )
    results = json.loads((out / "all_results.json").read_text())
    state = json.loads((out / "trainer_state.json").read_text())
    batches = [list(map(int, line.split())) for line in batches_file.read_text().splitlines()]
    eval_batches = math.ceil(results["eval_samples"] / batch)
    train_batches = batches[: len(batches) - eval_batches]
    if len(train_batches) != state["global_step"]:
        raise RuntimeError(
            f"setting {name}: {len(batches)} collated batches for {state['global_step']} training steps and "
            f"{eval_batches} evaluation "
            "batches; the token counts are exact only when the train set is exactly --max_steps batches (no extra "
            "flags changing that)"
        )
    train_lengths = [length for batch_line in train_batches for length in batch_line[1:]]
    padded, real = sum(line[0] * (len(line) - 1) for line in train_batches), sum(train_lengths)
    return {
        "seconds": results["train_runtime"] + results.get("eval_runtime", 0.0),
        "train_seconds": results["train_runtime"],
        "padded_tokens": padded,
        "real_tokens": real,
        "encoder_tokens": real if is_padding_free(shape, argv) else padded,
        "peak_memory_gb": (
            torch.cuda.max_memory_allocated() if cuda else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        )
        / 2**30,
        "accuracy": results.get("eval_accuracy"),
        "f1": results.get("eval_f1"),
        "eval_loss": results.get("eval_loss"),
        "train_lengths": train_lengths,
    }


def length_stats():
    """bench/lengths.py, next to this file, however this script was loaded."""
    here = str(Path(__file__).resolve().parent)
    if here not in sys.path:
        sys.path.insert(0, here)
    import lengths

    return lengths


def job_histogram(name: str) -> dict:
    """A recipe job's length statistics: max_seq_length, batch, family, histogram."""
    return length_stats().job(name)


def job_lengths(name: str, count: int, qa: bool) -> list[int]:
    """`count` lengths from the job's histogram, truncated to its max_seq_length; a QA window needs
    room for the question and the 3 special tokens, so QA lengths start above those."""
    floor = QUESTION_WORDS + 5 if qa else 3
    return [max(floor, int(n)) for n in length_stats().sample_lengths(name, count, seed=0)]


def run_setting_in_process(
    name: str,
    model_dir: Path,
    data: Path,
    out: Path,
    shape: str,
    steps: int,
    extra: list[str],
    recipe: tuple[int, int] | None = None,
) -> dict:
    """run_setting in a fresh Python process; its row comes back through a JSON file."""
    import subprocess

    row_file = out.parent / f"{out.name}.row.json"
    row_file.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--one_setting", name]
    command += flags(model=model_dir, data=data, out=out, shape=shape, steps=steps, row=row_file)
    if recipe:
        command += flags(max_seq_length=recipe[0], batch=recipe[1])
    command += ["--extra", *extra]
    status = subprocess.run(command, check=False).returncode
    if status != 0 or not row_file.exists():
        raise RuntimeError(f"setting {name}: its process exited with status {status} (its output is above)")
    return json.loads(row_file.read_text())


def one_setting_main(argv: list[str]) -> int:
    """The child side of run_setting_in_process: one setting, its row written as JSON."""
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--one_setting", required=True, choices=SETTINGS)
    for name in ("model", "data", "out", "row"):
        parser.add_argument(f"--{name}", type=Path, required=True)
    parser.add_argument("--shape", choices=SHAPES, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--max_seq_length", type=int)
    parser.add_argument("--batch", type=int)
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[])
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    info = device_info()
    recipe = (args.max_seq_length, args.batch) if args.max_seq_length else None
    row = run_setting(
        args.one_setting,
        args.model,
        args.data,
        args.out,
        args.shape,
        args.steps,
        info["cuda"],
        info["bf16"],
        args.extra,
        recipe,
    )
    row["process_id"] = os.getpid()
    args.row.write_text(json.dumps(row) + "\n")
    return 0


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


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--one_setting"]:
        return one_setting_main(argv)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--shape", choices=SHAPES, default="tiny")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument(
        "--settings",
        type=settings_list,
        default=",".join(SETTINGS),
        help=f"comma-separated, from: {', '.join(SETTINGS)}",
    )
    parser.add_argument(
        "--job",
        help="draw lengths, max_seq_length and batch from this recipe job's real length histogram (bench/lengths.py, "
        "e.g. chemprot_hf, squad_hf); the shape gives the model. Default: the shape's job (DEFAULT_JOBS), else "
        "the shape's synthetic lengths",
    )
    parser.add_argument("--learnable_steps", type=int, default=60, help="steps of the same-results check (0 to skip)")
    parser.add_argument("--output", help="write the JSON results here (rewritten after every setting)")
    parser.add_argument("--extra", nargs=argparse.REMAINDER, default=[], help="further flags for every run")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    info = device_info()
    _, _, _, _, max_len, batch, mean, std, low = SHAPES[args.shape]
    recipe = None
    args.job = args.job or DEFAULT_JOBS.get(args.shape)
    if args.job:
        recipe_job = job_histogram(args.job)
        max_len, batch = recipe = (recipe_job["max_seq_length"], recipe_job["batch"])
        lengths = job_lengths(args.job, args.steps * batch, args.shape in QA_SHAPES)
    else:
        lengths = synthetic_lengths(random.Random(0), args.steps * batch, mean, std, low, max_len)
    report = {
        "shape": args.shape,
        "steps": args.steps,
        "batch": batch,
        "max_seq_length": max_len,
        "job": args.job,
        "mean_length": sum(lengths) / len(lengths),
        **info,
        "settings": {},
    }
    failed = []

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model_dir = build_model(tmp, args.shape)
        data = (write_qa_data if args.shape in QA_SHAPES else write_data)(tmp, lengths, random.Random(1))
        peak = peak_flops(info["device"])
        for name in args.settings:
            start = time.time()
            try:
                row = run_setting_in_process(
                    name, model_dir, data, tmp / name, args.shape, args.steps, args.extra, recipe
                )
            except Exception as err:  # one broken setting must not cost the others their numbers (GPU time is scarce)
                traceback.print_exc()
                report["settings"][name] = {"error": f"{type(err).__name__}: {err}"}
                failed.append(name)
                write_report(report, args.output)
                continue
            # the useful work: real tokens of the windows the Trainer really trained on
            flops = train_flops(model_dir, row.pop("train_lengths"))
            row.update(
                wall_seconds_incl_setup=time.time() - start,
                real_tokens_per_s=row["real_tokens"] / row["train_seconds"],
                padded_tokens_per_s=row["padded_tokens"] / row["train_seconds"],
                encoder_tokens_per_s=row["encoder_tokens"] / row["train_seconds"],
                samples_per_s=args.steps * batch / row["seconds"],
                mfu=(flops / row["train_seconds"] / peak) if peak else None,
            )
            report["settings"][name] = row
            add_speedups(report)
            write_report(report, args.output)
        if args.learnable_steps:
            report["same_results"] = same_results_check(tmp, args.shape, args.learnable_steps)
            write_report(report, args.output)
    print(format_report(report))
    if failed:
        print(f"failed settings (tracebacks above): {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def add_speedups(report: dict) -> None:
    base = report["settings"].get("original", {})
    for row in report["settings"].values():
        if "error" not in row:
            row["speedup_vs_original"] = base["seconds"] / row["seconds"] if "seconds" in base else None


def write_report(report: dict, output: str | None) -> None:
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        Path(output).write_text(json.dumps(report, indent=2) + "\n")


def same_results_check(tmp: Path, shape: str, steps: int) -> dict:
    """The same seed and data under `original`, `dynamic` and `defaults`: accuracy and eval_loss on
    a learnable task."""
    _, _, _, _, max_len, batch, mean, std, low = SHAPES[shape]
    rng = random.Random(2)
    lengths = synthetic_lengths(rng, steps * batch, min(mean, 64), min(std, 20), 8, min(max_len, 128))
    directory = tmp / "learnable"
    directory.mkdir()
    data = write_data(directory, lengths, random.Random(3), learnable=True)
    model_dir = build_model(directory, "tiny")
    out = {}
    for name in SAME_RESULTS_SETTINGS:
        row = run_setting_in_process(
            name,
            model_dir,
            data,
            tmp / f"learnable-{name}",
            "tiny",
            steps,
            flags(learning_rate="5e-4", warmup_steps="0.1", max_eval_samples="256"),
        )
        out[name] = {"accuracy": row["accuracy"], "eval_loss": row["eval_loss"]}
    return out


# ----- the report as Markdown (also used by bench/summarize.py) -----

COLUMNS = ("setting", "real tok/s", "padded tok/s", "encoder tok/s", "samples/s", "MFU", "peak GB", "vs original")


def table_row(name: str, row: dict) -> list[str]:
    if "error" in row:
        return [name, "failed"] + [""] * (len(COLUMNS) - 2)  # the error is printed under the table
    # results written before padding-free existed have no encoder count: their encoders ran on every padded token
    encoder = row.get("encoder_tokens_per_s", row["padded_tokens_per_s"])
    mfu = f"{100 * row['mfu']:.1f}%" if row["mfu"] is not None else "n/a"
    ratio = f"{row['speedup_vs_original']:.2f}x" if row.get("speedup_vs_original") else "n/a"
    return [
        name,
        f"{row['real_tokens_per_s']:.0f}",
        f"{row['padded_tokens_per_s']:.0f}",
        f"{encoder:.0f}",
        f"{row['samples_per_s']:.1f}",
        mfu,
        f"{row['peak_memory_gb']:.2f}",
        ratio,
    ]


def markdown_table(header: tuple[str, ...], rows: list[list[str]]) -> list[str]:
    """A Markdown table, first column left-aligned, the others right-aligned, padded to line up."""
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells):
        return (
            "| "
            + " | ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(cells, widths, strict=True))
            )
            + " |"
        )

    rule = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return [line(header), rule, *(line(row) for row in rows)]


def same_results_line(checks: dict) -> str:
    """Reads both forms: {name: {"accuracy", "eval_loss"}} and, from older files, {name: accuracy}."""
    parts = []
    for name, value in checks.items():
        if isinstance(value, dict):
            loss = f", eval_loss {value['eval_loss']:.4f}" if value.get("eval_loss") is not None else ""
            parts.append(f"{name} accuracy {value['accuracy']:.4f}{loss}")
        else:
            parts.append(f"{name} accuracy {value:.4f}")
    return "same results (learnable task, same seed): " + "; ".join(parts)


def format_report(report: dict, title: str | None = None) -> str:
    """The run as Markdown: what was run, on what, the table, failed settings' errors, and the
    same-results line."""
    lines = [] if title is None else [f"**{title}**", ""]
    lines += [
        f"{report['shape']}{' with ' + report['job'] + ' lengths' if report.get('job') else ''}: "
        f"{report['steps']} steps x batch {report['batch']}, max length "
        f"{report['max_seq_length']}, mean real length {report['mean_length']:.0f}  ",
        f"device: {report['device']}, torch {report['torch']}, transformers {report['transformers']}",
        "",
        *markdown_table(COLUMNS, [table_row(name, row) for name, row in report["settings"].items()]),
    ]
    failures = [f"{name} failed: {row['error']}  " for name, row in report["settings"].items() if "error" in row]
    lines += ["", *failures] if failures else []
    if "same_results" in report:
        lines += ["", same_results_line(report["same_results"])]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
