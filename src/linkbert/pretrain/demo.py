"""A LinkBERT pretraining run small enough for a demo: under a minute on a laptop CPU.

    python -m linkbert.pretrain.demo --output_dir demo_runs/pretrain

On the 30 hand-written linked documents of demo/pretrain/corpus.jsonl it builds a tiny BERT and a
WordPiece vocabulary from the corpus (linkbert.tools.tiny_bert), runs build_pairs with
sentence-sized segments, and pretrains for a few dozen steps with run_pretrain. The result,
output_dir/model, is a standard BERT checkpoint that the fine-tuning scripts accept as
--model_name_or_path. The same three stages by hand:

    python scripts/make_tiny_model.py --text_files demo/pretrain/corpus.jsonl \
        --output_dir demo_runs/pretrain/tiny-bert --vocab_size 600
    python src/pretrain/build_pairs.py --corpus demo/pretrain/corpus.jsonl \
        --tokenizer demo_runs/pretrain/tiny-bert --output_dir demo_runs/pretrain/pairs \
        --max_seq_length 64 --segment_length 30 --dupe_factor 4 --seed 0
    python src/pretrain/run_pretrain.py --model_name_or_path demo_runs/pretrain/tiny-bert \
        --train_dir demo_runs/pretrain/pairs --output_dir demo_runs/pretrain/model --max_steps 40 \
        --per_device_train_batch_size 16 --learning_rate 1e-3 --warmup_steps 4 --logging_steps 5 \
        --save_steps 20 --seed 0
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from linkbert.cli import flags

DEMO_CORPUS = Path(__file__).resolve().parents[3] / "demo" / "pretrain" / "corpus.jsonl"


def run_pretrain_demo(
    output_dir: str | Path, *, corpus: str | Path = DEMO_CORPUS, steps: int = 40, seed: int = 0
) -> dict:
    """Run the three stages into output_dir (tiny-bert/, pairs/, model/); return the paths, the
    build_pairs manifest and the training results."""
    from linkbert.pretrain.build import main as build_main
    from linkbert.pretrain.train import main as train_main
    from linkbert.tools.tiny_bert import build_tiny_bert

    output_dir = Path(output_dir)
    texts = [json.loads(line)["text"] for line in Path(corpus).read_text(encoding="utf-8").splitlines() if line.strip()]
    tiny = build_tiny_bert(
        output_dir / "tiny-bert",
        texts,
        vocab_size=600,
        hidden_size=64,
        num_layers=2,
        num_heads=2,
        intermediate_size=128,
        seed=seed,
    )
    pairs, model = output_dir / "pairs", output_dir / "model"
    build_argv = flags(
        corpus=corpus,
        tokenizer=tiny,
        output_dir=pairs,
        max_seq_length=64,
        segment_length=30,
        dupe_factor=4,
        seed=seed,
        overwrite_output_dir=True,
    )
    if build_main(build_argv) != 0:
        raise RuntimeError("build_pairs failed")
    train_argv = flags(
        model_name_or_path=tiny,
        train_dir=pairs,
        output_dir=model,
        max_steps=steps,
        per_device_train_batch_size=16,
        learning_rate=1e-3,
        warmup_steps=0.1,
        logging_steps=5,
        save_steps=steps,
        seed=seed,
        overwrite_output_dir=True,
    )
    if train_main(train_argv) != 0:
        raise RuntimeError("run_pretrain failed")
    return {
        "tiny_bert": str(tiny),
        "pairs": str(pairs),
        "model": str(model),
        "manifest": json.loads((pairs / "manifest.json").read_text(encoding="utf-8")),
        "results": json.loads((model / "train_results.json").read_text(encoding="utf-8")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Tiny LinkBERT pretraining on demo/pretrain/corpus.jsonl", allow_abbrev=False
    )
    parser.add_argument("--output_dir", default="demo_runs/pretrain")
    parser.add_argument("--corpus", default=str(DEMO_CORPUS))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = run_pretrain_demo(args.output_dir, corpus=args.corpus, steps=args.steps, seed=args.seed)
    results = out["results"]
    print(
        f"pairs: {out['manifest']['pair_counts']}; after {results['global_step']} steps: mlm loss "
        f"{results['mlm_loss']:.3f}, "
        f"drp loss {results['drp_loss']:.3f}, drp accuracy {results['drp_accuracy']:.3f}; checkpoint: {out['model']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
