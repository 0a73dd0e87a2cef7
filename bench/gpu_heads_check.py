"""Every task head through the real entry path under each GPU setting: a short fine-tune per
(head, setting, precision), its metric checked against the padded run, and prediction under CUDA
graphs checked against eager prediction.

The demo's seven tasks (scripts/demo.py: relation, pair, similarity, multi-label, extractive QA,
NER, multiple choice) are fine-tuned for a few steps on a tiny BERT built from the demo data, under
- padded: the defaults without padding-free (the original's results, dynamic padding);
- padfree: --padding_free (varlen attention on CUDA);
- padfree-compile: --padding_free --torch_compile (repad attention, inductor);
- padfree-bucket-compile: the same with --padding_free_bucket (fixed input shapes);
each in bf16 and in fp16 (--fp16 has a loss scaler and fp16 gradient reduction; bf16 has neither).
A setting passes when the run exits 0 with a finite metric close to the padded run's in the same
precision (the tiny BERT has dropout off, so the runs differ by rounding only); for extractive QA,
whose loss spans the padding of windows padded to max_seq_length (README, padding-free), a finite
metric. Then the multiple-choice model predicts its test split without training (as the MMLU
step does) eagerly and under --torch_compile_mode reduce-overhead; the predictions must agree.
Each run is a process of its own (nothing compiled or switched leaks between settings).

    python bench/gpu_heads_check.py --output bench/results/h100-heads.json        # on a GPU, ~3 min
    python bench/gpu_heads_check.py --settings padded,padfree --dtypes fp32 --steps 5   # CPU plumbing check
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETTINGS = {
    "padded": [],
    "padfree": ["--padding_free"],
    "padfree-compile": ["--padding_free", "--torch_compile"],
    "padfree-bucket-compile": ["--padding_free", "--padding_free_bucket", "256", "--torch_compile"],
}
DTYPES = {"bf16": ["--bf16"], "fp16": ["--fp16"], "fp32": []}
# metric distance from the padded run that still counts as the same result after a few steps in low
# precision (metrics are 0-1, QA F1 0-100)
TOLERANCE = {"bf16": 0.15, "fp16": 0.1, "fp32": 0.02}


@functools.cache
def demo_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("linkbert_demo", REPO / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def child_main(argv: list[str]) -> int:
    """One demo step with extra flags, in this process; prints its metric as JSON on the last line."""
    step_index, model_dir, output_root, out = int(argv[0]), Path(argv[1]), Path(argv[2]), Path(argv[3])
    demo = demo_module()
    step = demo.STEPS[step_index]
    score, seconds = demo.run_step(step, model_dir, output_root, REPO / "demo" / "sample_data", out, argv[4:])
    print(json.dumps({"score": score, "seconds": seconds}))
    return 0


def run_child(step_index: int, model_dir: Path, root: Path, out: Path, extra: list[str]) -> dict:
    command = [sys.executable, __file__, "--child", str(step_index), str(model_dir), str(root), str(out), *extra]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return {"error": f"exit {done.returncode}: {' | '.join(tail)}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def predictions(path: Path) -> list:
    return [json.loads(line).get("prediction") for line in path.read_text().splitlines() if line.strip()]


def cuda_graph_predict_check(model_dir: Path, root: Path, dtype_flags: list[str]) -> dict:
    """The MC model predicts its test split without training, eagerly and under CUDA graphs."""
    demo = demo_module()
    step_index = next(i for i, step in enumerate(demo.STEPS) if step.data_dir.startswith("mc/"))
    step = demo.STEPS[step_index]
    trained = root / "mc-trained"
    result = run_child(step_index, model_dir, root, trained, ["--max_steps", "20", "--save_strategy", "no"])
    if "error" in result:
        return {"error": f"training the MC model: {result['error']}"}
    data = REPO / "demo" / "sample_data" / step.data_dir / "test.json"
    outputs = {}
    for name, extra in (
        ("eager", []),
        ("reduce-overhead", ["--torch_compile", "--torch_compile_mode", "reduce-overhead"]),
    ):
        out = root / f"mc-predict-{name}"
        command = [sys.executable, str(REPO / "src" / "mc" / "run_multiple_choice.py")]
        command += ["--model_name_or_path", str(trained), "--test_file", str(data), "--do_predict"]
        command += ["--output_dir", str(out), "--max_seq_length", "128", "--per_device_eval_batch_size", "4"]
        command += ["--report_to", "none", "--log_level", "error", *dtype_flags, *extra]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            return {"error": f"{name} prediction exit {done.returncode}: {done.stderr.strip().splitlines()[-1:]}"}
        outputs[name] = predictions(out / "predict_predictions.jsonl")
    same = outputs["eager"] == outputs["reduce-overhead"]
    return {"examples": len(outputs["eager"]), "same_predictions": same, "ok": same and len(outputs["eager"]) > 4}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--child"]:
        return child_main(argv[1:])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--settings", default=",".join(SETTINGS), help=f"comma-separated, from {', '.join(SETTINGS)}")
    parser.add_argument("--dtypes", default="bf16,fp16", help=f"comma-separated, from {', '.join(DTYPES)}")
    parser.add_argument("--steps", type=int, default=30, help="training steps per run")
    parser.add_argument("--jobs", type=int, default=8, help="runs at once")
    parser.add_argument("--skip_cuda_graphs", action="store_true", help="skip the reduce-overhead prediction check")
    parser.add_argument("--output", help="write the JSON report here")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("WANDB_MODE", "disabled")
    demo = demo_module()
    settings, dtypes = args.settings.split(","), args.dtypes.split(",")
    report = {"steps": args.steps, "runs": {}, "failures": []}
    start = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_dir = root / "tiny-bert"
        data_root = REPO / "demo" / "sample_data"
        texts = demo.texts_from_files(sorted(data_root.rglob("train.json")))
        # dropout off: with it, padded and packed runs draw different masks and train differently
        shape = {"hidden_size": 64, "num_layers": 2, "num_heads": 2, "intermediate_size": 128, "dropout": 0.0}
        demo.build_tiny_bert(model_dir, texts, vocab_size=600, seed=0, **shape)
        runs = [
            (index, step, dtype, setting)
            for index, step in enumerate(demo.STEPS)
            for dtype in dtypes
            for setting in settings
        ]

        def one_run(job):
            index, step, dtype, setting = job
            key = f"{step.data_dir.split('/')[-1]} {setting} {dtype}"
            extra = [*SETTINGS[setting], *DTYPES[dtype], "--max_steps", str(args.steps)]
            row = run_child(index, model_dir, root, root / key.replace(" ", "-"), extra)
            print(f"{key:<48} {json.dumps(row)}", flush=True)
            return key, row

        # tiny models leave the GPU mostly idle: several runs at once
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = dict(pool.map(one_run, runs))
        for _, step, dtype, setting in runs:
            key = f"{step.data_dir.split('/')[-1]} {setting} {dtype}"
            row = results[key]
            reference = results.get(f"{step.data_dir.split('/')[-1]} padded {dtype}", {}).get("score")
            if "error" not in row:
                qa = step.data_dir.startswith("qa/")
                close = qa or reference is None or abs(row["score"] - reference) <= TOLERANCE[dtype]
                row["ok"] = math.isfinite(row["score"]) and close
            report["runs"][key] = row
            if not row.get("ok"):
                report["failures"].append(key)
        if not args.skip_cuda_graphs:
            check = cuda_graph_predict_check(model_dir, root, DTYPES[dtypes[0]])
            report["cuda_graph_predict"] = check
            if not check.get("ok"):
                report["failures"].append("cuda_graph_predict")
            print(f"{'prediction under CUDA graphs':<48} {json.dumps(check)}", flush=True)
    report["seconds"] = round(time.time() - start, 1)
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(f"{len(report['failures'])} failures: {', '.join(report['failures']) or 'none'}")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
