"""Pretraining instances on disk: Arrow IPC shards plus a manifest.

Each shard `pairs-XXXXX-of-YYYYY.arrow` is an Arrow IPC file (memory-mapped for random access by
run_pretrain, or streamed with `datasets` when the data outgrows one machine) with one row per
instance:

    input_ids       list<int32>  [CLS] A [SEP] B [SEP]
    token_type_ids  list<int8>   0 over [CLS] A [SEP], 1 over B [SEP]
    pair_label      int8         0 contiguous, 1 random, 2 linked (DRP target, ACL §4)
    doc_a, doc_b    string       corpus ids of A's and B's documents (for checks and tests)
    seg_a, seg_b    int32        segment indices inside those documents

A contiguous pair cut out of a one-segment document (pairs.py) has seg_a == seg_b == 0: A is the
first part of that segment, up to a sentence boundary, and B the rest, so A + B is the whole segment
(before any truncation). Every other contiguous pair has seg_b == seg_a + 1, so pair_label 0 with
seg_a == seg_b identifies the split pairs.

Rows are assigned to shards deterministically: the pair with corpus-wide position `order` (pass,
then document, then segment; pairs.py) goes to shard `order % num_shards`, so shard sizes differ by
at most one and every shard samples the whole corpus; inside a shard the rows are shuffled by a
permutation seeded with (seed, shard). Neither depends on the number of worker processes.

`manifest.json` is written last, after every shard has been renamed into place, so its presence
means the directory is complete. It records the realised pair mix (`pair_counts`,
`pair_fractions`, `num_contiguous_split`), the seed and `dupe_factor`, the sha256 of the source
corpus, the tokenizer and its vocabulary hash (run_pretrain refuses a mismatched tokenizer), the
settings and the shard files with their row counts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from linkbert.errors import DataError
from linkbert.jsonl import atomic_output, read_json
from linkbert.pretrain.segments import SegmentStore, truncate_pair

MANIFEST = "manifest.json"
FORMAT = "linkbert-pretrain-pairs/1"
ROWS_PER_BATCH = 8192

SCHEMA = pa.schema(
    [
        ("input_ids", pa.list_(pa.int32())),
        ("token_type_ids", pa.list_(pa.int8())),
        ("pair_label", pa.int8()),
        ("doc_a", pa.string()),
        ("doc_b", pa.string()),
        ("seg_a", pa.int32()),
        ("seg_b", pa.int32()),
    ]
)


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def vocab_sha256(tokenizer) -> str:
    """Hash of the token -> id map, so shards and the model's tokenizer can be checked to agree."""
    vocab = sorted(tokenizer.get_vocab().items(), key=lambda item: item[1])
    return hashlib.sha256(json.dumps(vocab, ensure_ascii=False).encode("utf-8")).hexdigest()


def shard_names(num_shards: int) -> list[str]:
    return [f"pairs-{i:05d}-of-{num_shards:05d}.arrow" for i in range(num_shards)]


def shard_order(pairs: np.ndarray, seed: int, shard: int) -> np.ndarray:
    """The rows of one shard in their written order: sorted by corpus position, then shuffled."""
    pairs = np.sort(pairs, order="order")
    return pairs[np.random.default_rng([seed, shard]).permutation(len(pairs))]


def encode_batch(
    pairs: np.ndarray, store: SegmentStore, ids: pa.ChunkedArray, special: tuple[int, int], max_seq_length: int
) -> tuple[pa.RecordBatch, int]:
    """Rows for `pairs` (pairs.PAIR_DTYPE) and how many of them had to be truncated."""
    cls_id, sep_id = special
    rows, types, truncated = [], [], 0
    for pair in pairs:
        a = store.segment(int(pair["doc_a"]), int(pair["seg_a"]))
        if pair["split"] >= 0:
            a, b = a[: pair["split"]], a[pair["split"] :]
        else:
            b = store.segment(int(pair["doc_b"]), int(pair["seg_b"]))
        a, b, cut = truncate_pair(a, b, max_seq_length - 3)
        truncated += cut
        rows.append(np.concatenate([[cls_id], a, [sep_id], b, [sep_id]]).astype(np.int32))
        types.append(np.concatenate([np.zeros(len(a) + 2, np.int8), np.ones(len(b) + 1, np.int8)]))
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows], dtype=np.int64)]).astype(np.int32)
    columns = [
        pa.ListArray.from_arrays(offsets, np.concatenate(rows) if rows else np.zeros(0, np.int32)),
        pa.ListArray.from_arrays(offsets, np.concatenate(types) if types else np.zeros(0, np.int8)),
        pa.array(pairs["label"], pa.int8()),
        ids.take(pa.array(pairs["doc_a"])).combine_chunks() if len(pairs) else pa.array([], pa.string()),
        ids.take(pa.array(pairs["doc_b"])).combine_chunks() if len(pairs) else pa.array([], pa.string()),
        pa.array(pairs["seg_a"], pa.int32()),
        pa.array(pairs["seg_b"], pa.int32()),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA), truncated


def write_shard(
    path: Path,
    pairs: np.ndarray,
    store: SegmentStore,
    ids: pa.ChunkedArray,
    special: tuple[int, int],
    max_seq_length: int,
) -> int:
    """Write one shard through a temporary name, ROWS_PER_BATCH rows at a time; return the number of
    truncated pairs."""
    truncated = 0
    with atomic_output(path, "wb") as handle:
        with pa.ipc.new_file(handle, SCHEMA) as writer:
            for start in range(0, len(pairs), ROWS_PER_BATCH):
                batch, cut = encode_batch(pairs[start : start + ROWS_PER_BATCH], store, ids, special, max_seq_length)
                writer.write_batch(batch)
                truncated += cut
    return truncated


def write_manifest(output_dir: Path, manifest: dict) -> Path:
    path = output_dir / MANIFEST
    with atomic_output(path) as handle:
        json.dump(dict(manifest, format=FORMAT), handle, indent=2)
        handle.write("\n")
    return path


def read_manifest(train_dir: str | os.PathLike) -> dict:
    """The manifest of a build_pairs output directory, with its shard files checked to exist."""
    path = Path(train_dir) / MANIFEST
    if not path.is_file():
        raise DataError(path, "no manifest: is this a build_pairs output directory (or did build_pairs not finish)?")
    manifest = read_json(path, what="a build_pairs manifest object")
    if manifest.get("format") != FORMAT:
        raise DataError(path, f"expected format {FORMAT!r}, got {manifest.get('format')!r}", field="format")
    for shard in manifest.get("shards", []):
        if not (Path(train_dir) / shard["file"]).is_file():
            raise DataError(path, f"shard {shard['file']} listed but missing", field="shards")
    return manifest


def shard_paths(train_dir: str | os.PathLike, manifest: dict) -> list[str]:
    return [str(Path(train_dir) / shard["file"]) for shard in manifest["shards"]]


def load_table(
    paths: Sequence[str], columns: Sequence[str] = ("input_ids", "token_type_ids", "pair_label")
) -> pa.Table:
    """All shards as one memory-mapped table (the OS pages rows in as they are read)."""
    tables = []
    for path in paths:
        reader = pa.ipc.open_file(pa.memory_map(path, "r"))
        tables.append(reader.read_all().select(list(columns)))
    return pa.concat_tables(tables) if tables else SCHEMA.empty_table().select(list(columns))
