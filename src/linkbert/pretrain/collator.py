"""Batch pretraining instances: dynamic padding plus BERT's MLM masking, drawn on the fly.

Masking follows BERT exactly as the paper does (ACL §4): each non-special, non-padding token is
chosen with probability 0.15; a chosen token becomes [MASK] with probability 0.8, a random token
with 0.1, and stays unchanged with 0.1. `labels` hold the original id at chosen positions and -100
elsewhere. Masks are drawn here rather than stored in the shards (Google BERT stores them, with a
dupe factor) so each pass over the data sees new masks, as RoBERTa does.

Random replacement tokens are drawn from the non-special vocabulary, so a [CLS], [SEP] or [PAD]
never appears in the middle of a text. All randomness comes from the `torch.Generator` passed in;
its state is saved with each checkpoint so a resumed run draws the same masks.
"""

from __future__ import annotations

from collections.abc import Sequence

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
        generator: torch.Generator,
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
    def for_tokenizer(cls, tokenizer, generator: torch.Generator, **kwargs) -> PretrainCollator:
        return cls(
            pad_token_id=tokenizer.pad_token_id,
            mask_token_id=tokenizer.mask_token_id,
            vocab_size=len(tokenizer),
            special_ids=tokenizer.all_special_ids,
            generator=generator,
            **kwargs,
        )

    def __call__(self, features: Sequence[dict]) -> dict[str, torch.Tensor]:
        input_ids, token_type_ids, attention_mask = self.pad(features)
        input_ids, labels = self.mask(input_ids)
        drp_labels = torch.tensor([int(f["pair_label"]) for f in features], dtype=torch.long)
        return {
            "input_ids": input_ids,
            "token_type_ids": token_type_ids,
            "attention_mask": attention_mask,
            "labels": labels,
            "drp_labels": drp_labels,
        }

    def pad(self, features: Sequence[dict]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Pad to the longest instance of the batch (rounded up to pad_to_multiple_of)."""
        length = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = torch.full((len(features), length), self.pad_token_id, dtype=torch.long)
        token_type_ids = torch.zeros((len(features), length), dtype=torch.long)
        attention_mask = torch.zeros((len(features), length), dtype=torch.long)
        for row, feature in enumerate(features):
            n = len(feature["input_ids"])
            input_ids[row, :n] = torch.as_tensor(feature["input_ids"], dtype=torch.long)
            token_type_ids[row, :n] = torch.as_tensor(feature["token_type_ids"], dtype=torch.long)
            attention_mask[row, :n] = 1
        return input_ids, token_type_ids, attention_mask

    def mask(self, input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(masked input ids, labels) for a padded batch; `input_ids` is not modified."""
        eligible = ~torch.isin(input_ids, self.special_ids)
        chosen = (torch.rand(input_ids.shape, generator=self.generator) < self.mlm_probability) & eligible
        labels = torch.where(chosen, input_ids, torch.full_like(input_ids, -100))
        # One uniform draw splits the chosen tokens 80 / 10 / 10.
        action = torch.rand(input_ids.shape, generator=self.generator)
        to_mask = chosen & (action < MASK_FRACTION)
        to_random = chosen & (action >= MASK_FRACTION) & (action < MASK_FRACTION + RANDOM_FRACTION)
        picks = torch.randint(len(self.replacement_ids), input_ids.shape, generator=self.generator)
        masked = torch.where(to_mask, torch.full_like(input_ids, self.mask_token_id), input_ids)
        masked = torch.where(to_random, self.replacement_ids[picks], masked)
        return masked, labels
