"""Batch pretraining instances: dynamic padding plus BERT's MLM masking, drawn on the fly.

Masking follows BERT exactly as the paper does (ACL §4): each non-special, non-padding token is
chosen with probability 0.15; a chosen token becomes [MASK] with probability 0.8, a random token
with 0.1, and stays unchanged with 0.1. `labels` hold the original id at chosen positions and -100
elsewhere. Masks are drawn here rather than stored in the shards (Google BERT stores them, with a
dupe factor) so each pass over the data sees new masks, as RoBERTa does.

Random replacement tokens are drawn from the non-special vocabulary, so a [CLS], [SEP] or [PAD]
never appears in the middle of a text. All randomness comes from a `torch.Generator`: the
loader (linkbert.pretrain.stream) passes one per micro-batch, seeded by where the micro-batch starts
in the data stream, so a resumed run draws the same masks.

Rows arrive as Arrow tables and are converted with array operations (list offsets and values to
numpy, one scatter into the padded batch): converting row by row to Python lists cost about 2
CPU-seconds per 2048 x 512 optimizer step.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

MLM_PROBABILITY = 0.15
MASK_FRACTION, RANDOM_FRACTION = 0.8, 0.1  # the remaining 0.1 keeps the original token


class PretrainCollator:
    def __init__(
        self,
        *,
        pad_token_id: int,
        mask_token_id: int,
        vocab_size: int,
        special_ids: Sequence[int],
        generator: torch.Generator | None = None,
        mlm_probability: float = MLM_PROBABILITY,
        pad_to_multiple_of: int | None = None,
    ):
        self.pad_token_id = pad_token_id
        self.mask_token_id = mask_token_id
        self.special_ids = torch.tensor(sorted(set(special_ids) | {pad_token_id}), dtype=torch.long)
        self.replacement_ids = torch.tensor(
            [i for i in range(vocab_size) if i not in set(self.special_ids.tolist())], dtype=torch.long
        )
        self.generator = generator
        self.mlm_probability = mlm_probability
        self.pad_to_multiple_of = pad_to_multiple_of

    @classmethod
    def for_tokenizer(cls, tokenizer, generator: torch.Generator | None = None, **kwargs) -> PretrainCollator:
        return cls(
            pad_token_id=tokenizer.pad_token_id,
            mask_token_id=tokenizer.mask_token_id,
            vocab_size=len(tokenizer),
            special_ids=tokenizer.all_special_ids,
            generator=generator,
            **kwargs,
        )

    def __call__(self, rows: pa.Table | pa.RecordBatch, generator: torch.Generator | None = None) -> dict:
        """A batch from Arrow rows with the columns input_ids, token_type_ids and pair_label; masks are
        drawn from `generator` (default: the collator's own)."""
        ids, lengths = flat_lists(rows.column("input_ids"))
        types, _ = flat_lists(rows.column("token_type_ids"))
        input_ids, token_type_ids, attention_mask = self.pad(ids, types, lengths)
        input_ids, labels = self.mask(input_ids, generator or self.generator)
        drp_labels = torch.from_numpy(np.array(rows.column("pair_label").to_numpy(), dtype=np.int64))
        return {
            "input_ids": input_ids,
            "token_type_ids": token_type_ids,
            "attention_mask": attention_mask,
            "labels": labels,
            "drp_labels": drp_labels,
        }

    def pad(
        self, ids: np.ndarray, types: np.ndarray, lengths: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pad to the longest instance of the batch (rounded up to pad_to_multiple_of): every token is
        scattered to (its row, its place in the row) in one array operation."""
        length = int(lengths.max())
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        row_of_token = np.repeat(np.arange(len(lengths)), lengths)
        row_starts = np.cumsum(lengths) - lengths
        place_in_row = np.arange(len(ids)) - np.repeat(row_starts, lengths)
        input_ids = np.full((len(lengths), length), self.pad_token_id, dtype=np.int64)
        token_type_ids = np.zeros((len(lengths), length), dtype=np.int64)
        input_ids[row_of_token, place_in_row] = ids
        token_type_ids[row_of_token, place_in_row] = types
        attention_mask = (np.arange(length) < lengths[:, None]).astype(np.int64)
        return torch.from_numpy(input_ids), torch.from_numpy(token_type_ids), torch.from_numpy(attention_mask)

    def mask(self, input_ids: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(masked input ids, labels) for a padded batch; `input_ids` is not modified."""
        eligible = ~torch.isin(input_ids, self.special_ids)
        chosen = (torch.rand(input_ids.shape, generator=generator) < self.mlm_probability) & eligible
        labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
        # One uniform draw splits the chosen tokens 80 / 10 / 10.
        action = torch.rand(input_ids.shape, generator=generator)
        to_mask = chosen & (action < MASK_FRACTION)
        to_random = chosen & (action >= MASK_FRACTION) & (action < MASK_FRACTION + RANDOM_FRACTION)
        picks = torch.randint(len(self.replacement_ids), input_ids.shape, generator=generator)
        masked = torch.where(to_mask, torch.full_like(input_ids, self.mask_token_id), input_ids)
        masked = torch.where(to_random, self.replacement_ids[picks], masked)
        return masked, labels


def flat_lists(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """(all values one after the other, length of each row) of a list column, without a Python loop
    over rows. `list_flatten` respects slices, whose offsets do not start at 0."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if column.null_count:
        raise ValueError("pretraining rows must not have null token lists")
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False).astype(np.int64)
    values = pc.list_flatten(column).to_numpy(zero_copy_only=False)
    return values, lengths
