"""The model's raw logits on the test split, kept for ensembling and analysis, stored compactly.

The original wrote them as indented JSON, every token's logits padded to the split's longest row:
12 MB for 940 NER sentences at length 128, hundreds of MB at the recipes' 512. Here
`<prefix>_outputs.json` is a small index and `<prefix>_outputs.npz` holds the arrays, unpadded and
float32: the rows of every example concatenated, with each example's row count, so an NER sentence
keeps exactly its own tokens. `load_raw_outputs` reads them back (numpy without pickles).
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from linkbert.jsonl import atomic_output, read_json

FORMAT = "linkbert-raw-outputs-1"


@dataclass
class RawOutputs:
    """Per example: its logits (an array: [classes], [options] or [tokens, labels]) and label ids
    (None for unlabelled data), plus JSON-able per-example extras (NER's word_ids)."""

    predictions: list[np.ndarray]
    label_ids: list[np.ndarray] | None = None
    extra: dict[str, list] = field(default_factory=dict)
    per_token: bool = False  # rows are token sequences of their own lengths (NER), not one vector each

    def save(self, index_path: Path) -> None:
        """`index_path` (e.g. test_outputs.json) and the .npz beside it, each written atomically."""
        arrays_path = index_path.with_suffix(".npz")
        arrays = _flatten("predictions", self.predictions, np.float32, self.per_token)
        if self.label_ids is not None:  # int class ids, 0/1 multi-hot or float regression targets
            arrays.update(_flatten("label_ids", self.label_ids, None, self.per_token))
        buffer = io.BytesIO()
        np.savez_compressed(buffer, **arrays)
        with atomic_output(arrays_path, "wb") as handle:
            handle.write(buffer.getvalue())
        index = {
            "format": FORMAT,
            "arrays": arrays_path.name,
            "examples": len(self.predictions),
            "per_token": self.per_token,
        }
        index.update(self.extra)
        with atomic_output(index_path) as handle:
            json.dump(index, handle)
            handle.write("\n")


def _flatten(name: str, rows: list[np.ndarray], dtype, per_token: bool) -> dict[str, np.ndarray]:
    """The rows concatenated along a first axis of items (a row's tokens, or the row itself), with
    each row's item count."""
    rows = [np.asarray(row, dtype=dtype) for row in rows]
    items = [row if per_token else row[None] for row in rows]
    return {name: np.concatenate(items), f"{name}_rows": np.array([len(item) for item in items], dtype=np.int64)}


def _unflatten(arrays, name: str, per_token: bool) -> list[np.ndarray]:
    rows = np.split(arrays[name], np.cumsum(arrays[f"{name}_rows"])[:-1])
    return rows if per_token else [row[0] for row in rows]


def raw_outputs(output, lengths: list[int] | None = None, **extra) -> RawOutputs:
    """From the Trainer's prediction output: the logits (the first element when the model returned
    several outputs) and label ids, cut to each example's `lengths` when rows are token sequences
    (the Trainer pads them with -100 across batches)."""
    predictions = output.predictions[0] if isinstance(output.predictions, tuple) else output.predictions
    predictions = np.asarray(predictions)
    labels = None if output.label_ids is None else np.asarray(output.label_ids)
    if lengths is None:
        rows = list(predictions)
        label_rows = None if labels is None else list(labels)
    else:
        rows = [predictions[index, :length] for index, length in enumerate(lengths)]
        label_rows = None if labels is None else [labels[index, :length] for index, length in enumerate(lengths)]
    return RawOutputs(rows, label_rows, extra, per_token=lengths is not None)


def load_raw_outputs(index_path: str | Path) -> RawOutputs:
    """Read `<prefix>_outputs.json` and its .npz back into per-example arrays."""
    index_path = Path(index_path)
    index = read_json(index_path)
    if index.get("format") != FORMAT:  # the original's JSON: padded nested lists inline
        label_ids = index.get("label_ids")
        extra = {key: value for key, value in index.items() if key not in ("predictions", "label_ids")}
        return RawOutputs([np.asarray(row) for row in index["predictions"]],
                          None if label_ids is None else [np.asarray(row) for row in label_ids], extra)  # fmt: skip
    per_token = bool(index.get("per_token"))
    extra = {key: value for key, value in index.items() if key not in ("format", "arrays", "examples", "per_token")}
    with np.load(index_path.parent / index["arrays"], allow_pickle=False) as arrays:
        predictions = _unflatten(arrays, "predictions", per_token)
        label_ids = _unflatten(arrays, "label_ids", per_token) if "label_ids" in arrays else None
    return RawOutputs(predictions, label_ids, extra, per_token)
