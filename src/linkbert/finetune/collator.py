"""One collator for every task: pads a batch of tokenized features with numpy.

The Trainer collates each batch on the training process between steps (unless dataloader workers
do it), and a fine-tuning step at the recipes' batch sizes is bound by such per-step host work. The
HuggingFace collators pad through `tokenizer.pad`, which walks the batch key by key in Python:
about 5 ms for 32 x 384 tokens on one core. This one fills preallocated numpy arrays row by row,
about ten times faster (`bench/collate_speed.py`), and produces the same tensors: same keys, dtypes
and values as DataCollatorWithPadding (sequence classification, QA), DataCollatorForTokenClassification
(NER: labels padded with -100) and the original's multiple-choice collator ([batch, options, length]);
`tests/test_collate.py` compares them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

IGNORE_INDEX = -100  # label of positions no loss or metric looks at


@dataclass
class PaddingCollator:
    """Pads list-valued features to the batch's longest (rounded up to `pad_to_multiple_of`) and
    stacks scalar ones. `input_ids` pad with the tokenizer's pad id, `labels` with -100 when they
    are per token (`token_labels`), everything else (attention_mask, token_type_ids) with 0.
    Features whose token lists are nested one level deeper ([options][tokens]) come out as
    [batch, options, length]. Integers become int64 and floats float32, as torch.tensor does."""

    pad_token_id: int
    pad_to_multiple_of: int | None = None
    token_labels: bool = False
    padding_side: str = "right"

    @classmethod
    def for_tokenizer(
        cls, tokenizer, pad_to_multiple_of: int | None = None, token_labels: bool = False
    ) -> PaddingCollator:
        return cls(tokenizer.pad_token_id, pad_to_multiple_of, token_labels, tokenizer.padding_side)

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        padded_keys = [
            key
            for key, value in features[0].items()
            if isinstance(value, list) and (key != "labels" or self.token_labels)
        ]
        length = self._length(features, padded_keys)
        batch = {}
        for key in features[0]:
            column = [feature[key] for feature in features]
            if key in padded_keys:
                batch[key] = torch.from_numpy(self._pad(column, length, self._pad_value(key)))
            else:
                batch[key] = torch.tensor(column)
        return batch

    def _pad_value(self, key: str) -> int:
        if key == "input_ids":
            return self.pad_token_id
        return IGNORE_INDEX if key == "labels" else 0

    def _length(self, features: list[dict], keys: list[str]) -> int:
        if not keys:
            return 0
        rows = [feature[keys[0]] for feature in features]
        if rows[0] and isinstance(rows[0][0], list):  # [options][tokens]
            rows = [option for row in rows for option in row]
        longest = max(len(row) for row in rows)
        multiple = self.pad_to_multiple_of
        return -(-longest // multiple) * multiple if multiple else longest

    def _pad(self, column: list, length: int, value: int) -> np.ndarray:
        nested = bool(column[0]) and isinstance(column[0][0], list)
        rows = [option for row in column for option in row] if nested else column
        array = np.full((len(rows), length), value, dtype=np.int64)
        for index, row in enumerate(rows):
            if self.padding_side == "left":
                array[index, length - len(row) :] = row
            else:
                array[index, : len(row)] = row
        return array.reshape(len(column), -1, length) if nested else array
