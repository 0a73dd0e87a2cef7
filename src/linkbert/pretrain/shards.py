"""Pretraining instances on disk: Arrow IPC shards plus a manifest.

Each shard `pairs-XXXXX-of-YYYYY.arrow` is an Arrow IPC file (memory-mapped for random access by
run_pretrain, or streamed with `datasets` when the data outgrows one machine) with one row per
instance:

    input_ids       list<int32>  [CLS] A [SEP] B [SEP]
    token_type_ids  list<int8>   0 over [CLS] A [SEP], 1 over B [SEP]
    pair_label      int8         0 contiguous, 1 random, 2 linked (DRP target, ACL §4)
    doc_a, doc_b    string       corpus ids of A's and B's documents (for checks and tests)
    seg_a, seg_b    int32        segment indices inside those documents

`manifest.json` is written last, after every shard has been renamed into place, so its presence
means the directory is complete. It records the counts per pair type, the seed, the sha256 of the
source corpus, the tokenizer and its vocabulary hash (run_pretrain refuses a mismatched tokenizer),
the settings and the shard files with their row counts.
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
from linkbert.pretrain.pairs import Pair
from linkbert.pretrain.segments import Segments, truncate_pair

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


def split_evenly(items: Sequence, parts: int) -> list[Sequence]:
    """`parts` consecutive slices whose sizes differ by at most one."""
    size, extra = divmod(len(items), parts)
    slices, start = [], 0
    for part in range(parts):
        stop = start + size + (part < extra)
        slices.append(items[start:stop])
        start = stop
    return slices


def encode_batch(
    pairs: Sequence[Pair], segments: Segments, ids: Sequence[str], special: tuple[int, int], max_seq_length: int
) -> tuple[pa.RecordBatch, int]:
    """Rows for `pairs` and how many of them had to be truncated to fit max_seq_length."""
    cls_id, sep_id = special
    rows, types, truncated = [], [], 0
    for pair in pairs:
        a, b, cut = truncate_pair(
            segments.segment(pair.doc_a, pair.seg_a), segments.segment(pair.doc_b, pair.seg_b), max_seq_length - 3
        )
        truncated += cut
        rows.append(np.concatenate([[cls_id], a, [sep_id], b, [sep_id]]).astype(np.int32))
        types.append(np.concatenate([np.zeros(len(a) + 2, np.int8), np.ones(len(b) + 1, np.int8)]))
    offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])]).astype(np.int32)
    columns = [
        pa.ListArray.from_arrays(offsets, np.concatenate(rows) if rows else np.zeros(0, np.int32)),
        pa.ListArray.from_arrays(offsets, np.concatenate(types) if types else np.zeros(0, np.int8)),
        pa.array([p.label for p in pairs], pa.int8()),
        pa.array([ids[p.doc_a] for p in pairs], pa.string()),
        pa.array([ids[p.doc_b] for p in pairs], pa.string()),
        pa.array([p.seg_a for p in pairs], pa.int32()),
        pa.array([p.seg_b for p in pairs], pa.int32()),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA), truncated


def write_shard(
    path: Path,
    pairs: Sequence[Pair],
    segments: Segments,
    ids: Sequence[str],
    special: tuple[int, int],
    max_seq_length: int,
) -> int:
    """Write one shard through a temporary name; return the number of truncated pairs."""
    truncated = 0
    with atomic_output(path, "wb") as handle:
        with pa.ipc.new_file(handle, SCHEMA) as writer:
            for start in range(0, len(pairs), ROWS_PER_BATCH):
                batch, cut = encode_batch(pairs[start : start + ROWS_PER_BATCH], segments, ids, special, max_seq_length)
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
