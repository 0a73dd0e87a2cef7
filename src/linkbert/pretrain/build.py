"""build_pairs: linked corpus -> segments -> (A, B, relation) instances -> Arrow shards + manifest.

    python src/pretrain/build_pairs.py --corpus data/pretrain/wiki.jsonl --tokenizer bert-base-cased \
        --output_dir data/pretrain/wiki_pairs --max_seq_length 512 --seed 42 --num_shards 256 \
        --dupe_factor 4 --num_workers 16

Stages; the ones marked * run in `--num_workers` processes (multiprocessing.Pool over fixed chunks of
`--chunk_documents` corpus lines, results taken in chunk order):
1.* read and validate each chunk (corpus.py), tokenize it with the fast tokenizer and cut it into
    segments (segments.py); tokens, segment offsets, id and link hashes go to .npy files in a work
    folder inside output_dir (removed at the end);
2.  resolve links to document indices and check ids are unique (corpus.LinkResolver): the link
    graph's CSR arrays, the only part of the corpus held in memory (about 60 bytes per document and
    4 per link);
3.* sample `dupe_factor` pairs per anchor segment (pairs.py), each anchor document with its own
    generator seeded by (seed, pass, document), and group each chunk's pairs by shard;
4.* write each shard: its pairs in a (seed, shard)-seeded order, tokens read from the memory-mapped
    chunk files (shards.py); then the manifest.
Memory is therefore bounded by the graph arrays plus one chunk (stage 1) or one shard's pair
indices (stage 4), whatever the corpus size, and the shards are byte-for-byte the same for any
number of workers (and any chunk size) given the same seed. Masking is not done here: run_pretrain
masks on the fly, so every epoch sees new masks.
"""

from __future__ import annotations

import argparse
import copyreg
import functools
import logging
import multiprocessing
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from linkbert.cli import ArgumentParser
from linkbert.errors import DataError, OutputError, UsageError, report_errors
from linkbert.jsonl import folder_error
from linkbert.loading import load_fast_tokenizer
from linkbert.pretrain.corpus import LinkResolver, check_document, chunk_offsets, id_hashes, read_chunk
from linkbert.pretrain.pairs import PAIR_TYPES, LinkGraph, offsets_of, sample_range
from linkbert.pretrain.segments import SegmentStore, concat_segments, load_chunk, save_chunk, segment_documents
from linkbert.pretrain.shards import MANIFEST, sha256_file, shard_names, shard_order, vocab_sha256, write_manifest
from linkbert.pretrain.shards import write_shard as write_shard_file

logger = logging.getLogger("linkbert.pretrain")

WORK_FOLDER = ".build_pairs-work"
GRAPH_ARRAYS = ("num_segments", "link_offsets", "link_targets", "split_offsets", "split_points")
ID_SCHEMA = pa.schema([("id", pa.string())])
JOBS_PER_PROCESS = 8


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
        "--dupe_factor",
        type=int,
        default=1,
        help="Pairs per anchor segment: each pass draws a fresh relation and partner for every anchor (use the number "
        "of passes over the data that training will make; see run_pretrain_linkbert-base.sh)",
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
    parser.add_argument(
        "--num_workers",
        type=int,
        default=1,
        help="Processes that tokenize, sample and write shards (same output for any number)",
    )
    parser.add_argument(
        "--chunk_documents",
        type=int,
        default=10000,
        help="Corpus lines per worker job; a job holds one chunk in memory (the output does not depend on it)",
    )
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
        ("num_workers", 1),
        ("chunk_documents", 1),
        ("seed", 0),
    ):
        if getattr(args, name) < smallest:
            parser.error(f"--{name} {getattr(args, name)}: expected at least {smallest}")
    return args


@dataclass(frozen=True)
class Plan:
    """What every worker needs to know (small and picklable: workers are spawned processes)."""

    corpus: str
    work_dir: str
    output_dir: str
    tokenizer_file: str
    token_dtype: str
    segment_length: int
    pack: bool
    tokenize_batch_size: int
    seed: int
    dupe_factor: int
    diversity: bool
    num_shards: int
    max_seq_length: int
    special: tuple[int, int]

    def chunk_folder(self, chunk: int) -> Path:
        return Path(self.work_dir) / f"chunk-{chunk:06d}"


# ---------------------------------------------------------------- running jobs in worker processes


def _rebuild_error(cls, message: str, state: dict) -> Exception:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


def _reduce_error(error: Exception):
    return _rebuild_error, (type(error), str(error), dict(error.__dict__))


def _job(function: Callable, plan: Plan, arguments: tuple):
    """Run one job in a worker; DataError and OutputError keep their file, line and field on their
    way back to the main process (their constructors do not take the formatted message)."""
    for cls in (DataError, OutputError):
        copyreg.pickle(cls, _reduce_error)
    return function(plan, *arguments)


_PROCESS_CACHE: dict[tuple, object] = {}


def cached(key: tuple, make: Callable):
    """One tokenizer / graph / store per worker process, loaded on its first job."""
    if key not in _PROCESS_CACHE:
        _PROCESS_CACHE[key] = make()
    return _PROCESS_CACHE[key]


@contextmanager
def job_runner(num_workers: int) -> Iterator[Callable]:
    """run(function, plan, jobs) -> results in job order: in this process for one worker, else in a
    Pool of spawned processes (the tokenizer's threads make fork unsafe)."""
    if num_workers == 1:
        try:
            yield lambda function, plan, jobs: [function(plan, *job) for job in jobs]
        finally:  # the next build in this process may reuse the same paths
            for value in _PROCESS_CACHE.values():
                getattr(value, "close", lambda: None)()
            _PROCESS_CACHE.clear()
        return
    # A fresh process every JOBS_PER_PROCESS jobs: what the allocator keeps after a chunk (a fragmented
    # heap is seldom given back) cannot pile up over a long corpus.
    with multiprocessing.get_context("spawn").Pool(num_workers, maxtasksperchild=JOBS_PER_PROCESS) as pool:
        yield lambda function, plan, jobs: list(pool.imap(functools.partial(_job, function, plan), jobs))


# ---------------------------------------------------------------- stage 1: read, tokenize, segment


def make_encoder(tokenizer_file: str) -> Callable[[list[str]], list[list[int]]]:
    """The fast tokenizer's Rust backend (the same normalizer, pre-tokenizer and model as the
    `transformers` tokenizer it came from, saved by make_plan), without special tokens, truncation
    or padding."""
    from tokenizers import Tokenizer

    backend = Tokenizer.from_file(tokenizer_file)
    backend.no_truncation()
    backend.no_padding()
    encode_batch = getattr(backend, "encode_batch_fast", backend.encode_batch)  # no offsets: faster (0.21+)
    return lambda texts: [e.ids for e in encode_batch(texts, add_special_tokens=False)]


def tokenize_chunk(plan: Plan, chunk: int, start: int, stop: int, first_line: int) -> tuple[int, int, int]:
    """Validate, tokenize and segment corpus bytes start:stop; write the chunk's arrays; return its
    (documents, segments, tokens)."""
    encode = cached(("encoder", plan.tokenizer_file), lambda: make_encoder(plan.tokenizer_file))
    ids, lines, link_counts, link_hashes, parts = [], [], [], [], []
    texts, link_ids = [], []

    def flush():  # one batch of documents -> segments and link hashes; its texts are let go
        parts.append(segment_documents(texts, encode, plan.segment_length, plan.pack, plan.token_dtype))
        link_hashes.append(id_hashes(link_ids))
        texts.clear()
        link_ids.clear()

    for line, record in read_chunk(plan.corpus, start, stop, first_line):
        doc_id, text, links, _title = check_document(Path(plan.corpus), line, record)
        ids.append(doc_id)
        lines.append(line)
        link_counts.append(len(links))
        link_ids.extend(links)
        texts.append(text)
        if len(texts) == plan.tokenize_batch_size:
            flush()
    if texts:
        flush()
    segments = concat_segments(parts, plan.token_dtype)
    folder = plan.chunk_folder(chunk)
    save_chunk(folder, segments)
    np.save(folder / "id_hash.npy", id_hashes(ids))
    np.save(folder / "lines.npy", np.asarray(lines, dtype=np.int64))
    np.save(folder / "link_counts.npy", np.asarray(link_counts, dtype=np.int64))
    np.save(folder / "link_hash.npy", np.concatenate(link_hashes) if link_hashes else np.zeros(0, np.uint64))
    with pa.OSFile(str(folder / "ids.arrow"), "wb") as sink, pa.ipc.new_file(sink, ID_SCHEMA) as writer:
        writer.write_table(pa.table({"id": pa.array(ids, pa.string())}, schema=ID_SCHEMA))
    return len(ids), len(segments.starts), len(segments.tokens)


def load_ids(plan: Plan, num_chunks: int) -> pa.ChunkedArray:
    """Every document id, memory-mapped from the chunk files (indexable by document index)."""
    arrays = []
    for chunk in range(num_chunks):
        table = pa.ipc.open_file(pa.memory_map(str(plan.chunk_folder(chunk) / "ids.arrow"))).read_all()
        arrays.extend(table.column("id").chunks)
    return pa.chunked_array(arrays, pa.string())


# ---------------------------------------------------------------- stage 2: the link graph


def build_graph(plan: Plan, num_chunks: int, use_links: bool) -> tuple[LinkGraph, dict]:
    """The corpus's LinkGraph (saved to the work folder for the workers) and the link counts."""
    folders = [plan.chunk_folder(c) for c in range(num_chunks)]
    hashes = np.concatenate([np.load(f / "id_hash.npy") for f in folders])
    lines = np.concatenate([np.load(f / "lines.npy") for f in folders])
    ids = load_ids(plan, num_chunks)
    resolver = LinkResolver(plan.corpus, hashes, lines, lambda doc: ids[doc].as_py())
    resolver.check_unique()
    del hashes
    num_segments = np.concatenate([np.load(f / "counts.npy") for f in folders]).astype(np.int32)
    link_counts, link_targets, split_counts, split_points = [], [], [], []
    first_doc = 0
    for folder in folders:
        counts = np.load(folder / "link_counts.npy")
        found, targets = resolver.resolve(first_doc, counts, np.load(folder / "link_hash.npy"), num_segments)
        first_doc += len(counts)
        link_counts.append(found)
        link_targets.append(targets)
        arrays = load_chunk(folder, ("split_offsets", "split_points"))
        split_counts.append(np.diff(arrays["split_offsets"]))
        split_points.append(np.asarray(arrays["split_points"]))
    if not use_links:  # the ablation ignores the graph; its counts are still reported
        link_counts = [np.zeros_like(c) for c in link_counts]
        link_targets = []
    graph = LinkGraph(
        num_segments,
        offsets_of(np.concatenate(link_counts)),
        np.concatenate(link_targets) if link_targets else np.zeros(0, np.int32),
        offsets_of(np.concatenate(split_counts)),
        np.concatenate(split_points).astype(np.int32),
    )
    graph_folder = Path(plan.work_dir) / "graph"
    graph_folder.mkdir()
    for name in GRAPH_ARRAYS:
        np.save(graph_folder / f"{name}.npy", getattr(graph, name))
    stats = dict(resolver.stats, documents=len(num_segments), documents_dropped_empty=int((num_segments == 0).sum()))
    return graph, stats


def load_graph(plan: Plan) -> LinkGraph:
    folder = Path(plan.work_dir) / "graph"
    return LinkGraph(*(np.load(folder / f"{name}.npy", mmap_mode="r") for name in GRAPH_ARRAYS))


# ---------------------------------------------------------------- stage 3: sample pairs


def sample_chunk(plan: Plan, chunk: int, first_doc: int, stop_doc: int) -> np.ndarray:
    """Sample the pairs anchored in documents first_doc..stop_doc - 1; write them grouped by shard;
    return how many go to each shard."""
    graph = cached(("graph", plan.work_dir), lambda: load_graph(plan))
    pairs = sample_range(
        graph, range(first_doc, stop_doc), plan.seed, dupe_factor=plan.dupe_factor, diversity=plan.diversity
    )
    shard = pairs["order"] % plan.num_shards
    np.save(plan.chunk_folder(chunk) / "pairs.npy", pairs[np.argsort(shard, kind="stable")])
    return np.bincount(shard, minlength=plan.num_shards)


# ---------------------------------------------------------------- stage 4: write shards


def write_one_shard(plan: Plan, shard: int, num_chunks: int, bounds: np.ndarray) -> dict:
    """Gather shard `shard`'s pairs (rows bounds[c, 0]:bounds[c, 1] of chunk c's pair file), order
    and encode them, write the shard; return its row and label counts."""
    store = cached(("store", plan.work_dir), lambda: open_store(plan, num_chunks))
    ids = cached(("ids", plan.work_dir), lambda: load_ids(plan, num_chunks))
    parts = [
        np.load(plan.chunk_folder(chunk) / "pairs.npy", mmap_mode="r")[start:stop]
        for chunk, (start, stop) in enumerate(bounds)
    ]
    pairs = shard_order(np.concatenate(parts), plan.seed, shard)
    name = shard_names(plan.num_shards)[shard]
    truncated = write_shard_file(Path(plan.output_dir) / name, pairs, store, ids, plan.special, plan.max_seq_length)
    splits = int((pairs["split"] >= 0).sum())
    labels = np.bincount(pairs["label"].astype(np.int64), minlength=len(PAIR_TYPES)).tolist()
    return {"file": name, "num_rows": len(pairs), "truncated": truncated, "labels": labels, "split": splits}


def open_store(plan: Plan, num_chunks: int) -> SegmentStore:
    folder = Path(plan.work_dir) / "graph"
    return SegmentStore(
        [plan.chunk_folder(c) for c in range(num_chunks)],
        np.load(folder / "chunk_first_doc.npy"),
        np.load(folder / "doc_first_segment.npy", mmap_mode="r"),
    )


# ---------------------------------------------------------------- the command


def make_plan(args: argparse.Namespace, tokenizer, work_dir: Path) -> Plan:
    tokenizer_file = work_dir / "tokenizer.json"
    tokenizer.backend_tokenizer.save(str(tokenizer_file))
    return Plan(
        corpus=str(args.corpus),
        work_dir=str(work_dir),
        output_dir=str(args.output_dir),
        tokenizer_file=str(tokenizer_file),
        # BERT's 28,996 and BioLinkBERT's 28,895 ids fit in 16 bits: half the disk of int32
        token_dtype="uint16" if len(tokenizer) <= 1 << 16 else "int32",
        segment_length=args.segment_length,
        pack=args.segment_unit == "packed",
        tokenize_batch_size=args.tokenize_batch_size,
        seed=args.seed,
        dupe_factor=args.dupe_factor,
        diversity=not args.no_diversity,
        num_shards=args.num_shards,
        max_seq_length=args.max_seq_length,
        special=(tokenizer.cls_token_id, tokenizer.sep_token_id),
    )


def prepare_output(output_dir: Path) -> tuple[Path, bool]:
    """Create output_dir and an empty work folder inside it; return the work folder and whether
    output_dir was created here (then a failed build removes it again)."""
    created = not output_dir.exists()
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise folder_error(output_dir, err) from None
    work_dir = output_dir / WORK_FOLDER
    shutil.rmtree(work_dir, ignore_errors=True)  # left by a killed run
    work_dir.mkdir()
    return work_dir, created


def run_stages(args: argparse.Namespace, plan: Plan, offsets: Sequence[int]) -> dict:
    """Stages 1-4; return the manifest's data fields."""
    num_chunks = len(offsets) - 1
    clock = time.time()
    with job_runner(args.num_workers) as run:
        jobs = [(c, offsets[c], offsets[c + 1], c * args.chunk_documents + 1) for c in range(num_chunks)]
        sizes = np.asarray(run(tokenize_chunk, plan, jobs), dtype=np.int64).reshape(-1, 3)
        if sizes[:, 0].sum() == 0:
            raise DataError(args.corpus, "no documents: the file is empty")
        clock = log_stage(f"tokenized {sizes[:, 0].sum()} documents in {num_chunks} chunks", clock)
        graph, stats = build_graph(plan, num_chunks, use_links=not args.no_links)
        if sizes[:, 2].sum() == 0:
            raise UsageError(f"{args.corpus}: no document has any token")
        chunk_first_doc = offsets_of(sizes[:, 0])
        np.save(Path(plan.work_dir) / "graph" / "chunk_first_doc.npy", chunk_first_doc)
        np.save(Path(plan.work_dir) / "graph" / "doc_first_segment.npy", offsets_of(graph.num_segments))
        clock = log_stage(f"link graph of {stats['links']} links", clock)
        jobs = [(c, int(chunk_first_doc[c]), int(chunk_first_doc[c + 1])) for c in range(num_chunks)]
        per_shard = np.asarray(run(sample_chunk, plan, jobs), dtype=np.int64).reshape(num_chunks, -1)
        clock = log_stage(f"sampled {per_shard.sum()} pairs", clock)
        starts = np.concatenate([np.zeros((num_chunks, 1), np.int64), np.cumsum(per_shard, axis=1)], axis=1)
        jobs = [(s, num_chunks, np.stack([starts[:, s], starts[:, s + 1]], axis=1)) for s in range(args.num_shards)]
        shards = run(write_one_shard, plan, jobs)
        log_stage(f"wrote {args.num_shards} shards", clock)
    labels = np.sum([s.pop("labels") for s in shards], axis=0)
    return {
        "stats": stats,
        "segments": int(sizes[:, 1].sum()),
        "tokens": int(sizes[:, 2].sum()),
        "labels": labels,
        "split": sum(s.pop("split") for s in shards),
        "truncated": sum(s.pop("truncated") for s in shards),
        "shards": shards,
    }


def log_stage(message: str, since: float) -> float:
    now = time.time()
    logger.info("%s (%.1f s)", message, now - since)
    return now


def pair_mix(counts: np.ndarray) -> tuple[dict, dict]:
    """Counts and fractions of the relations actually written (counts[label])."""
    total = max(int(counts.sum()), 1)
    return (
        {name: int(counts[i]) for i, name in enumerate(PAIR_TYPES)},
        {name: round(int(counts[i]) / total, 4) for i, name in enumerate(PAIR_TYPES)},
    )


def build_pairs(args: argparse.Namespace, argv: list[str] | None = None) -> dict:
    """Run the stages; return the manifest written to args.output_dir."""
    start = time.time()
    output_dir = Path(args.output_dir)
    if (output_dir / MANIFEST).exists() and not args.overwrite_output_dir:
        raise UsageError(
            f"{output_dir} already holds a build (manifest.json): pass --overwrite_output_dir to replace it"
        )
    offsets = chunk_offsets(args.corpus, args.chunk_documents)
    tokenizer = load_fast_tokenizer(args.tokenizer)
    work_dir, created = prepare_output(output_dir)
    try:
        result = run_stages(args, make_plan(args, tokenizer, work_dir), offsets)
    except BaseException:
        shutil.rmtree(output_dir if created else work_dir, ignore_errors=True)
        raise
    shutil.rmtree(work_dir, ignore_errors=True)
    counts, fractions = pair_mix(result["labels"])
    manifest = {
        "command": ["build_pairs.py", *(argv or [])],
        "corpus": str(args.corpus),
        "corpus_sha256": sha256_file(args.corpus),
        "tokenizer": str(args.tokenizer),
        "vocab_size": len(tokenizer),
        "vocab_sha256": vocab_sha256(tokenizer),
        "seed": args.seed,
        "dupe_factor": args.dupe_factor,
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
        "num_workers": args.num_workers,
        "corpus_stats": result["stats"],
        "num_segments": result["segments"],
        "num_tokens": result["tokens"],
        "mean_segment_length": round(result["tokens"] / max(result["segments"], 1), 2),
        "num_pairs": int(result["labels"].sum()),
        "pair_counts": counts,
        "pair_fractions": fractions,
        "num_contiguous_split": result["split"],
        "num_truncated": result["truncated"],
        "shards": result["shards"],
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
