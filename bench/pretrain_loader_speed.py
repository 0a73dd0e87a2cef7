"""Host time and memory of one pretraining micro-batch: the old loader (shards concatenated into one
table, `take`, rows to Python lists, padded row by row) against the current one (rows gathered per
memory-mapped record batch, padded with array operations; linkbert.pretrain.stream).

Synthetic shards in build_pairs' format (Arrow IPC, 8 shards, record batches of 8192 rows) of 50k,
200k and 800k pairs of 128 tokens are written with pyarrow to a temporary directory. Each (size,
loader) pair runs in a fresh process, so that its peak resident memory is its own: it opens the
shards, builds a few micro-batches of 64 rows as warm-up, then times `--batches` more (median
milliseconds per micro-batch: read + pad + mask) and reports its peak RSS, its anonymous RSS at the
end and the peak of pyarrow's allocations (the bytes that copying rows cost). One thread
(OMP_NUM_THREADS=1, torch.set_num_threads(1)) so that the numbers do not depend on how busy the
other cores are.

    OMP_NUM_THREADS=1 python bench/pretrain_loader_speed.py --output bench/results/cpu-2core-pretrain-loader.json
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = (50_000, 200_000, 800_000)
TOKENS, BATCH, SHARDS, ROWS_PER_BATCH, VOCAB = 128, 64, 8, 8192, 28_000
PAD, CLS, SEP, MASK = 0, 101, 102, 103


def write_synthetic_shards(directory: Path, pairs: int, seed: int = 0) -> list[str]:
    """`pairs` rows of [CLS] A [SEP] B [SEP], 128 tokens, random ids, in SHARDS Arrow IPC files."""
    import pyarrow as pa

    from linkbert.pretrain.shards import SCHEMA, shard_names, split_evenly

    rng = np.random.default_rng(seed)
    paths = []
    for name, rows in zip(shard_names(SHARDS), split_evenly(range(pairs), SHARDS), strict=True):
        path = directory / name
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
            for start in range(0, len(rows), ROWS_PER_BATCH):
                writer.write_batch(synthetic_batch(rng, min(ROWS_PER_BATCH, len(rows) - start), SCHEMA))
        paths.append(str(path))
    return paths


def synthetic_batch(rng: np.random.Generator, count: int, schema):
    import pyarrow as pa

    ids = rng.integers(1000, VOCAB, size=(count, TOKENS), dtype=np.int32)
    ids[:, 0], ids[:, TOKENS // 2], ids[:, -1] = CLS, SEP, SEP
    types = np.zeros((count, TOKENS), dtype=np.int8)
    types[:, TOKENS // 2 + 1 :] = 1
    offsets = np.arange(0, (count + 1) * TOKENS, TOKENS, dtype=np.int32)
    columns = [
        pa.ListArray.from_arrays(offsets, ids.ravel()),
        pa.ListArray.from_arrays(offsets, types.ravel()),
        pa.array(rng.integers(0, 3, count), pa.int8()),
        pa.array(["a"] * count),
        pa.array(["b"] * count),
        pa.array(np.zeros(count, np.int32)),
        pa.array(np.ones(count, np.int32)),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=schema)


# ---------------------------------------------------------------- the two loaders


def new_loader(paths: list[str]):
    import torch

    from linkbert.pretrain.collator import PretrainCollator
    from linkbert.pretrain.stream import MappedStream

    stream = MappedStream(paths, rank=0, world_size=1, seed=0)
    collator = PretrainCollator(
        pad_token_id=PAD, mask_token_id=MASK, vocab_size=VOCAB, special_ids=(PAD, CLS, SEP, MASK)
    )
    generator = torch.Generator().manual_seed(0)
    return lambda: collator(stream.take(BATCH), generator)


def old_loader(paths: list[str]):
    """What MappedStream + PretrainCollator did before: one concatenated table, `take` of the
    batch's rows (which concatenates every chunk of every column), rows to Python lists and a
    per-row copy into the padded batch."""
    import pyarrow as pa
    import torch

    from linkbert.pretrain.collator import PretrainCollator

    tables = [
        pa.ipc.open_file(pa.memory_map(p, "r")).read_all().select(["input_ids", "token_type_ids", "pair_label"])
        for p in paths
    ]
    table = pa.concat_tables(tables)
    order = np.random.default_rng([0, 0]).permutation(len(table))
    collator = PretrainCollator(
        pad_token_id=PAD, mask_token_id=MASK, vocab_size=VOCAB, special_ids=(PAD, CLS, SEP, MASK)
    )
    generator = torch.Generator().manual_seed(0)
    position = [0]

    def micro_batch():
        picked = order[position[0] : position[0] + BATCH].tolist()
        position[0] += BATCH
        rows = table.take(picked).to_pylist()
        length = max(len(row["input_ids"]) for row in rows)
        input_ids = torch.full((len(rows), length), PAD, dtype=torch.long)
        token_type_ids = torch.zeros((len(rows), length), dtype=torch.long)
        attention_mask = torch.zeros((len(rows), length), dtype=torch.long)
        for index, row in enumerate(rows):
            n = len(row["input_ids"])
            input_ids[index, :n] = torch.as_tensor(row["input_ids"], dtype=torch.long)
            token_type_ids[index, :n] = torch.as_tensor(row["token_type_ids"], dtype=torch.long)
            attention_mask[index, :n] = 1
        masked, labels = collator.mask(input_ids, generator)
        drp = torch.tensor([int(row["pair_label"]) for row in rows])
        return {"input_ids": masked, "labels": labels, "drp_labels": drp, "token_type_ids": token_type_ids}

    return micro_batch


def measure(loader: str, paths: list[str], batches: int) -> dict:
    """In this process: ms per micro-batch and peak RSS of one loader."""
    import torch

    torch.set_num_threads(1)
    rss_before = peak_rss_mb()
    micro_batch = (new_loader if loader == "new" else old_loader)(paths)
    for _ in range(3):
        micro_batch()
    times, faults_before = [], resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(batches):
        started = time.perf_counter()
        micro_batch()
        times.append((time.perf_counter() - started) * 1000)
    import pyarrow as pa

    return {
        "ms_per_micro_batch": statistics.median(times),
        "ms_min": min(times),
        "batches_timed": batches,
        # first reads of memory-mapped pages; they grow with the dataset, as fewer rows share a page
        "page_faults_per_micro_batch": (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults_before) / batches,
        "peak_rss_mb": peak_rss_mb(),
        "rss_after_imports_mb": rss_before,
        "anonymous_rss_mb_at_end": anonymous_rss_mb(),
        "arrow_allocated_peak_mb": pa.default_memory_pool().max_memory() / 2**20,
    }


def measure_prefetch(paths: list[str], workers: int, steps: int) -> dict:
    """ms per training step when a CPU-bound stand-in for the model (matrix products on one thread,
    a few tens of ms) consumes the loader's micro-batches, with `workers` prefetching processes."""
    import torch

    from linkbert.pretrain.collator import PretrainCollator
    from linkbert.pretrain.stream import BatchLoader, MappedStream

    torch.set_num_threads(1)
    collator = PretrainCollator(
        pad_token_id=PAD, mask_token_id=MASK, vocab_size=VOCAB, special_ids=(PAD, CLS, SEP, MASK)
    )
    stream = MappedStream(paths, rank=0, world_size=1, seed=0)
    loader = BatchLoader(stream, collator, batch_size=BATCH, seed=0, rank=0, num_workers=workers)
    weight = torch.randn(512, 512) / 512**0.5
    for _ in range(5):
        loader.next_batch()
    started = time.perf_counter()
    for _ in range(steps):
        batch = loader.next_batch()
        hidden = batch["attention_mask"].float().repeat(8, 4) @ weight
        for _ in range(4):
            hidden = torch.tanh(hidden @ weight)
    elapsed = (time.perf_counter() - started) * 1000 / steps
    loader.close()
    return {"ms_per_step": elapsed, "steps": steps, "workers": workers}


def peak_rss_mb() -> float:
    """Peak resident memory, memory-mapped shard pages that were read included (they are the page
    cache's, shared and dropped under pressure; the kernel maps them in 64 kB runs around each read)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: kilobytes


def anonymous_rss_mb() -> float:
    """Resident memory that is the process's own (not file pages): where copies of the data live."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- driver


def run_one(loader: str, directory: Path, batches: int, workers: int = 0) -> dict:
    """`measure` in a fresh interpreter (argv list, no shell), its JSON read from stdout."""
    command = [sys.executable, __file__, "--measure", loader, "--data", str(directory), "--batches", str(batches)]
    command += ["--workers", str(workers)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, timeout=1800)
    return json.loads(done.stdout.strip().splitlines()[-1])


def prefetch_report(directory: Path, steps: int) -> dict:
    """Workers 0, 1, 2, twice each in turn (the machine is shared: interleaved, the lower of two)."""
    runs = {workers: [] for workers in (0, 1, 2)}
    for _ in range(2):
        for workers in runs:
            runs[workers].append(run_one("prefetch", directory, steps, workers)["ms_per_step"])
            print("prefetch", workers, runs[workers][-1], flush=True)
    return {f"workers_{w}_ms_per_step": min(times) for w, times in runs.items()} | {"steps": steps}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="comma-separated numbers of pairs")
    parser.add_argument("--batches", type=int, default=0, help="micro-batches timed (default: by size)")
    parser.add_argument("--prefetch_steps", type=int, default=100, help="steps timed per worker setting")
    parser.add_argument("--measure", choices=("old", "new", "prefetch"), help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        paths = sorted(str(p) for p in args.data.glob("pairs-*.arrow"))
        if args.measure == "prefetch":
            print(json.dumps(measure_prefetch(paths, args.workers, args.batches)))
        else:
            print(json.dumps(measure(args.measure, paths, args.batches)))
        return 0
    import pyarrow as pa
    import torch

    report = {
        "device": platform.machine(),
        "torch": torch.__version__,
        "pyarrow": pa.__version__,
        "command": "OMP_NUM_THREADS=1 python bench/pretrain_loader_speed.py",
        "settings": {"tokens_per_pair": TOKENS, "micro_batch": BATCH, "shards": SHARDS, "threads": 1},
        "sizes": {},
    }
    for pairs in (int(size) for size in args.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            write_synthetic_shards(Path(tmp), pairs)
            result = {}
            for loader in ("old", "new"):
                batches = args.batches or (10 if loader == "old" else 200)
                result[loader] = run_one(loader, Path(tmp), batches)
                print(pairs, loader, result[loader], flush=True)
            if pairs == max(int(size) for size in args.sizes.split(",")):
                report["prefetch"] = prefetch_report(Path(tmp), args.prefetch_steps)
        result["speedup"] = result["old"]["ms_per_micro_batch"] / result["new"]["ms_per_micro_batch"]
        report["sizes"][str(pairs)] = result
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
