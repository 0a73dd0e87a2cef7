"""build_pairs: linked corpus -> segments -> (A, B, relation) instances -> Arrow shards + manifest.

    python src/pretrain/build_pairs.py --corpus data/pretrain/wiki.jsonl --tokenizer bert-base-cased \
        --output_dir data/pretrain/wiki_pairs --max_seq_length 512 --seed 42 --num_shards 256

Stages, each deterministic for a seed (one `random.Random(seed)` threaded through sampling and
shuffling, as Google BERT's create_pretraining_data does):
1. read and validate the corpus (corpus.py); dangling links dropped and counted;
2. tokenize with the fast tokenizer and cut into segments (segments.py);
3. drop documents that produced no tokens (they cannot give a segment) and links into them;
4. sample one pair per anchor segment per pass (pairs.py) and shuffle them;
5. write `num_shards` shards of near-equal size, then the manifest (shards.py).
Masking is not done here: run_pretrain masks on the fly, so every epoch sees new masks.
"""

from __future__ import annotations

import argparse
import logging
import random
import sys
import time
from pathlib import Path

import numpy as np

from linkbert.cli import ArgumentParser
from linkbert.errors import UsageError, report_errors
from linkbert.loading import load_fast_tokenizer
from linkbert.pretrain.corpus import drop_documents, read_corpus
from linkbert.pretrain.pairs import count_types, sample_pairs
from linkbert.pretrain.segments import Segments, segment_corpus
from linkbert.pretrain.shards import (
    MANIFEST,
    sha256_file,
    shard_names,
    split_evenly,
    vocab_sha256,
    write_manifest,
    write_shard,
)

logger = logging.getLogger("linkbert.pretrain")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = ArgumentParser(
        prog="build_pairs.py",
        description="Build LinkBERT pretraining instances (contiguous / random / linked segment pairs) from a linked "
        "corpus.",
    )
    parser.add_argument(
        "--corpus", required=True, help="JSON-lines corpus: id, text, links[, title] per line (see linkbert.pretrain)"
    )
    parser.add_argument(
        "--tokenizer", required=True, help="Directory (or Hub id) of the fast tokenizer of the model to pretrain"
    )
    parser.add_argument("--output_dir", required=True, help="Where the shards and manifest.json are written")
    parser.add_argument(
        "--max_seq_length",
        type=int,
        default=512,
        help="Tokens per instance, [CLS] A [SEP] B [SEP] included (paper: 512)",
    )
    parser.add_argument(
        "--segment_length",
        type=int,
        default=None,
        help="Most tokens per segment; sentences are packed up to this length (default: (max_seq_length - 3) // 2)",
    )
    parser.add_argument(
        "--segment_unit",
        choices=("packed", "sentence"),
        default="packed",
        help="packed: consecutive sentences joined up to --segment_length (paragraph-like); sentence: one sentence "
        "per segment",
    )
    parser.add_argument("--seed", type=int, default=42, help="Seed of the pair sampling and shuffling")
    parser.add_argument(
        "--num_shards",
        type=int,
        default=1,
        help="Number of shard files (use a multiple of the number of training processes for --streaming)",
    )
    parser.add_argument(
        "--dupe_factor", type=int, default=1, help="Passes over the anchors; each pass draws new B segments"
    )
    parser.add_argument(
        "--no_diversity",
        action="store_true",
        help="Draw the linked document uniformly among the links instead of by 1/in-degree (Table 5 ablation)",
    )
    parser.add_argument(
        "--no_links",
        action="store_true",
        help="Ignore links: contiguous/random 50/50 only, i.e. BERT's pairs (baseline)",
    )
    parser.add_argument("--tokenize_batch_size", type=int, default=1000, help="Documents per fast-tokenizer call")
    parser.add_argument("--overwrite_output_dir", action="store_true", help="Replace an existing build in output_dir")
    args = parser.parse_args(argv)
    if args.segment_length is None:
        args.segment_length = (args.max_seq_length - 3) // 2
    # [CLS] A [SEP] B [SEP] needs 5 tokens for one-token segments
    for name, smallest in (
        ("max_seq_length", 5),
        ("segment_length", 1),
        ("num_shards", 1),
        ("dupe_factor", 1),
        ("tokenize_batch_size", 1),
    ):
        if getattr(args, name) < smallest:
            parser.error(f"--{name} {getattr(args, name)}: expected at least {smallest}")
    return args


def keep_nonempty(segments: Segments) -> tuple[Segments, list[bool]]:
    """Segments without the documents that have none, and which documents were kept."""
    counts = np.diff(segments.doc_offsets)
    keep = (counts > 0).tolist()
    offsets = np.concatenate([[0], np.cumsum(counts[counts > 0])]).astype(np.int64)
    return Segments(segments.tokens, segments.starts, segments.ends, offsets), keep


def build_pairs(args: argparse.Namespace, argv: list[str] | None = None) -> dict:
    """Run the five stages; return the manifest written to args.output_dir."""
    start = time.time()
    output_dir = Path(args.output_dir)
    if (output_dir / MANIFEST).exists() and not args.overwrite_output_dir:
        raise UsageError(
            f"{output_dir} already holds a build (manifest.json): pass --overwrite_output_dir to replace it"
        )
    corpus = read_corpus(args.corpus)
    tokenizer = load_fast_tokenizer(args.tokenizer)
    segments = segment_corpus(
        corpus.texts, tokenizer, args.segment_length, args.tokenize_batch_size, pack=args.segment_unit == "packed"
    )
    segments, keep = keep_nonempty(segments)
    corpus, _ = drop_documents(corpus, keep)
    if len(corpus) == 0:
        raise UsageError(f"{args.corpus}: no document has any token")

    rng = random.Random(args.seed)
    pairs = sample_pairs(
        segments.num_segments(),
        corpus.links,
        rng,
        diversity=not args.no_diversity,
        use_links=not args.no_links,
        dupe_factor=args.dupe_factor,
    )
    rng.shuffle(pairs)

    special = (tokenizer.cls_token_id, tokenizer.sep_token_id)
    shards, truncated = [], 0
    for name, part in zip(shard_names(args.num_shards), split_evenly(pairs, args.num_shards), strict=True):
        truncated += write_shard(output_dir / name, part, segments, corpus.ids, special, args.max_seq_length)
        shards.append({"file": name, "num_rows": len(part)})

    lengths = segments.lengths()
    manifest = {
        "command": ["build_pairs.py", *(argv or [])],
        "corpus": str(args.corpus),
        "corpus_sha256": sha256_file(args.corpus),
        "tokenizer": str(args.tokenizer),
        "vocab_size": len(tokenizer),
        "vocab_sha256": vocab_sha256(tokenizer),
        "seed": args.seed,
        "settings": {
            key: getattr(args, key)
            for key in (
                "max_seq_length",
                "segment_length",
                "segment_unit",
                "dupe_factor",
                "no_diversity",
                "no_links",
                "num_shards",
            )
        },
        "corpus_stats": corpus.stats,
        "num_segments": int(len(lengths)),
        "num_tokens": int(lengths.sum()),
        "mean_segment_length": round(float(lengths.mean()), 2) if len(lengths) else 0.0,
        "num_pairs": len(pairs),
        "pair_counts": count_types(pairs),
        "num_truncated": truncated,
        "shards": shards,
        "seconds": round(time.time() - start, 2),
    }
    write_manifest(output_dir, manifest)
    return manifest


def summary(manifest: dict) -> str:
    stats = manifest["corpus_stats"]
    counts = ", ".join(f"{name} {count}" for name, count in manifest["pair_counts"].items())
    return (
        f"{stats['documents']} documents ({stats.get('documents_dropped_empty', 0)} empty dropped), {stats['links']} "
        "links "
        f"({stats['links_dropped_unknown']} to unknown ids dropped, {stats['links_dropped_self']} self-links dropped); "
        f"{manifest['num_segments']} segments of {manifest['mean_segment_length']} tokens on average; "
        f"{manifest['num_pairs']} pairs: {counts}; {manifest['num_truncated']} truncated; "
        f"{len(manifest['shards'])} shards in {manifest['seconds']} s"
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s", level=logging.INFO)
    args = parse_args(argv)
    return report_errors(lambda: print(summary(build_pairs(args, argv))))
