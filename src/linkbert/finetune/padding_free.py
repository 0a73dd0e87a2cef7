"""Padding-free BERT: run the encoder on the real tokens of a batch only.

A padded batch of B inputs of length L holds B x L positions, of which only the unmasked ones
matter. `enable_padding_free(model)` makes the model's BertModel gather the real tokens into one
[T, hidden] sequence (T = number of real tokens), run embeddings and every layer on those, with
variable-length attention that keeps each input to itself, and scatter the result back to
[B, L, hidden] before the pooler and the task head. The heads, losses and checkpoints are those of
the HuggingFace model: same weights, same state dict, same `save_pretrained` output.

Attention keeps each input to itself in one of two ways: `varlen`, PyTorch SDPA on a jagged nested
tensor (on CUDA the flash / memory-efficient variable-length kernels, with attention dropout; on CPU
a loop over the inputs), or `repad`, SDPA with the key mask on a padded copy of query/key/value
(plain tensors that torch.compile captures whole). `auto` takes varlen on CUDA in eager mode and
repad elsewhere, and always repad under torch.compile (linkbert.finetune.args.resolve_attention
decides, in one place).
The positions that were padding come out as zeros instead of the values a padded forward computes
there; nothing downstream reads them (the losses and decoders only look at real tokens).

The collator can compute the gather indices on the CPU (`PaddingFreeCollator`), so the step does
not wait on the GPU to learn how many tokens are real; without them the model computes them itself.
For varlen it also hands over the shortest and longest packed input as Python ints, which the
jagged tensors take as given (nested_tensor_from_jagged's min_seqlen / max_seqlen, PyTorch >= 2.5)
instead of reading them back from the device.

Bucketing (`bucket`) exists for compiled graphs and CUDA graphs, which pay for every new shape:
the run pads the inputs to a fixed [batch, max_seq_length] (free, since the layers only see the
packed rows) and the packed row count is rounded up to a multiple of the bucket, so a whole epoch
shows the compiler one input shape (two when its last batch is smaller) and at most
batch x max_seq_length / bucket packed lengths (tests/test_compile_shapes.py counts them).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from types import MethodType

import torch
import torch.nn.functional as F

from linkbert.errors import UsageError
from linkbert.finetune.args import resolve_attention

logger = logging.getLogger(__name__)

ATTENTION_NAME = "linkbert_varlen"
# keys the collator adds to a batch (see unpad_metadata): where the packed rows come from in the flat
# [B * L] batch, where they go back to, and the cumulative lengths of the packed inputs
INDICES_KEY = "unpad_indices"
SCATTER_KEY = "repad_indices"
CU_SEQLENS_KEY = "cu_seqlens"
SEQLEN_RANGE_KEY = "packed_seqlen_range"  # (shortest, longest) packed input, Python ints, varlen only


def unpad_metadata(
    attention_mask: torch.Tensor, bucket: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For a [..., L] 0/1 mask (leading dimensions flattened as BertForMultipleChoice does):
    (gather indices of the real tokens in attention_mask.flatten(), scatter indices of the packed
    rows back into the flat [B * L] batch, cumulative lengths int32 starting at 0).

    With `bucket`, the packed length is rounded up to a multiple of it (at least one row more than
    the real tokens) so that batches share a few shapes: the filler rows form one extra input of
    their own (copies of position 0, never attending to or seen by the real inputs) and scatter to
    row B * L, one past the batch, which the model drops."""
    mask = attention_mask.reshape(-1, attention_mask.shape[-1]).bool()
    lengths = mask.sum(dim=1, dtype=torch.int32)
    gather = torch.nonzero(mask.flatten(), as_tuple=True)[0]
    scatter = gather
    if bucket:
        filler = -(-(gather.numel() + 1) // bucket) * bucket - gather.numel()
        gather = torch.cat([gather, gather.new_zeros(filler)])
        scatter = torch.cat([scatter, scatter.new_full((filler,), mask.numel())])
        lengths = torch.cat([lengths, lengths.new_tensor([filler])])
    cu_seqlens = F.pad(torch.cumsum(lengths, dim=0, dtype=torch.int32), (1, 0))
    return gather, scatter, cu_seqlens


@dataclass
class Packing:
    """What the attention of a packed batch needs, handed to every layer: the unpad_metadata of the
    batch, its padded shape, the key mask of the padded batch, and which attention kernel to use."""

    gather: torch.Tensor
    scatter: torch.Tensor
    cu_seqlens: torch.Tensor
    batch: int
    length: int
    min_seqlen: int | None  # shortest and longest packed input (the filler included): varlen only
    max_seqlen: int | None
    key_mask: torch.Tensor  # bool [B, 1, 1, L]
    attention: str  # "varlen" or "repad"


def varlen_attention(
    query, key, value, cu_seqlens: torch.Tensor, seqlen_range: tuple[int, int], dropout: float, scale: float
) -> torch.Tensor:
    """Attention within each input of a packed batch: query/key/value [T, heads, head_dim], input i
    owning rows cu_seqlens[i]:cu_seqlens[i+1], its shortest and longest input `seqlen_range`; returns
    [T, heads, head_dim]. SDPA on jagged nested tensors: flash / memory-efficient varlen kernels on
    CUDA (PyTorch loops over inputs on CPU)."""
    offsets = cu_seqlens.to(torch.int64)
    min_seqlen, max_seqlen = seqlen_range

    def jagged(tensor):  # [B, heads, {length}, head_dim]
        # the length bounds are given so that SDPA need not read them back from the device
        return torch.nested.nested_tensor_from_jagged(
            tensor, offsets=offsets, min_seqlen=min_seqlen, max_seqlen=max_seqlen
        ).transpose(1, 2)

    output = F.scaled_dot_product_attention(jagged(query), jagged(key), jagged(value), dropout_p=dropout, scale=scale)
    return output.transpose(1, 2).values()


def repadded_attention(query, key, value, packing: Packing, dropout: float, scale: float) -> torch.Tensor:
    """The same attention computed on a padded copy: query/key/value [T, heads, head_dim] are
    scattered back to [B, heads, L, head_dim], attended with the key mask, and gathered again. The
    layers' matrix multiplies stay padding-free; only attention sees padding. Plain tensors and
    fixed index maps, so torch.compile traces it on any device."""

    def padded(tensor):
        rows = tensor.new_zeros(packing.batch * packing.length + 1, *tensor.shape[1:]).index_copy(
            0, packing.scatter, tensor
        )
        return rows[:-1].view(packing.batch, packing.length, *tensor.shape[1:]).transpose(1, 2)

    output = F.scaled_dot_product_attention(
        padded(query), padded(key), padded(value), attn_mask=packing.key_mask, dropout_p=dropout, scale=scale
    )
    return output.transpose(1, 2).reshape(packing.batch * packing.length, *query.shape[1:])[packing.gather]


def _attention_forward(
    module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None, **kwargs
):
    """transformers' attention interface. BertSelfAttention hands over [1, heads, T, head_dim]
    (the packed batch as one row); returns ([1, T, heads, head_dim], no weights). Called without
    packing (a forward that bypassed the padding-free path), it is plain SDPA."""
    packing: Packing | None = kwargs.get("packing")
    if packing is None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward

        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling)
    packed = [tensor[0].transpose(0, 1) for tensor in (query, key, value)]  # [T, heads, head_dim]
    if packing.attention == "repad":
        output = repadded_attention(*packed, packing, dropout, scaling)
    else:
        output = varlen_attention(
            *packed, packing.cu_seqlens, (packing.min_seqlen, packing.max_seqlen), dropout, scaling
        )
    return output.unsqueeze(0), None


def _register() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, _attention_forward)
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)


def enable_padding_free(model, attention: str = "auto", compiled: bool = False) -> None:
    """Switch a BERT model (any head) to the padding-free forward, in place. `attention`: "varlen"
    (jagged SDPA), "repad" (attention on a padded copy), or "auto" (resolve_attention: varlen on
    CUDA in eager mode, else repad), resolved at each forward from the inputs' device; `compiled`
    says the model will run under torch.compile (auto then means repad, varlen is refused)."""
    resolve_attention(attention, "cpu", compiled)  # refuses what can never run, before any work
    bert = model.base_model
    config = bert.config
    if config.model_type != "bert" or not hasattr(bert, "embeddings") or not hasattr(bert, "encoder"):
        raise UsageError(f"--padding_free supports BERT-architecture models, not model_type {config.model_type!r}")
    if config.is_decoder or config.add_cross_attention:
        raise UsageError("--padding_free supports bidirectional encoders only, not a decoder configuration")
    _register()
    # CPU SDPA on jagged tensors goes through a strided nested tensor, which warns about its status
    warnings.filterwarnings("ignore", message="The PyTorch API of nested tensors is in prototype stage")
    model.set_attn_implementation(ATTENTION_NAME)
    bert._dense_forward = bert.forward
    bert._padding_free_attention = attention
    bert._padding_free_compiled = compiled
    bert.forward = MethodType(_padding_free_forward, bert)
    logger.info("padding-free encoder enabled: layers run on real tokens only (attention: %s)", attention)


def _padding_free_forward(
    self,
    input_ids=None,
    attention_mask=None,
    token_type_ids=None,
    position_ids=None,
    inputs_embeds=None,
    unpad_indices=None,
    repad_indices=None,
    cu_seqlens=None,
    packed_seqlen_range=None,
    return_dict=True,
    **kwargs,
):
    """BertModel.forward on the real tokens only; returns BaseModelOutputWithPoolingAndCrossAttentions
    with last_hidden_state [B, L, hidden] (zeros at padding) and the pooler output."""
    from transformers.modeling_outputs import (
        BaseModelOutputWithPoolingAndCrossAttentions,
    )

    unsupported = [
        name
        for name in ("output_attentions", "output_hidden_states", "encoder_hidden_states", "cache", "use_cache")
        if kwargs.get(name)
    ]
    if input_ids is None or unsupported:
        # what packing cannot serve (embeddings given directly, attention maps asked for) runs padded
        return self._dense_forward(
            input_ids, attention_mask, token_type_ids, position_ids, inputs_embeds, return_dict=return_dict, **kwargs
        )
    batch, length = input_ids.shape
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)
    if unpad_indices is None or cu_seqlens is None:
        unpad_indices, repad_indices, cu_seqlens = unpad_metadata(attention_mask)
    if repad_indices is None:
        repad_indices = unpad_indices
    if position_ids is None:
        position_ids = unpad_indices % length  # BERT's absolute positions: 0..L-1 along each row
    else:
        position_ids = position_ids.expand(batch, length).flatten()[unpad_indices]
    token_type_ids = (
        torch.zeros_like(unpad_indices) if token_type_ids is None else token_type_ids.flatten()[unpad_indices]
    )

    hidden = self.embeddings(
        input_ids=input_ids.flatten()[unpad_indices].unsqueeze(0),
        token_type_ids=token_type_ids.unsqueeze(0),
        position_ids=position_ids.unsqueeze(0),
    )
    attention = resolve_attention(self._padding_free_attention, input_ids.device.type, self._padding_free_compiled)
    key_mask = attention_mask.bool()[:, None, None, :]
    if attention == "varlen" and packed_seqlen_range is None:
        # no collator metadata: read the bounds back from the device (one host sync)
        packed_seqlen_range = seqlen_range(cu_seqlens)
    min_seqlen, max_seqlen = packed_seqlen_range or (None, None)
    packing = Packing(
        unpad_indices, repad_indices, cu_seqlens, batch, length, min_seqlen, max_seqlen, key_mask, attention
    )
    hidden = self.encoder(hidden, attention_mask=None, packing=packing).last_hidden_state[0]
    # one spare row past the batch receives the bucket's filler rows, if any, and is dropped
    sequence_output = hidden.new_zeros(batch * length + 1, hidden.shape[-1]).index_copy(0, repad_indices, hidden)
    sequence_output = sequence_output[:-1].view(batch, length, -1)
    pooled_output = self.pooler(sequence_output) if self.pooler is not None else None
    output = BaseModelOutputWithPoolingAndCrossAttentions(
        last_hidden_state=sequence_output, pooler_output=pooled_output
    )
    return output if return_dict else output.to_tuple()


def input_pad_multiple(pad_multiple: int | None, bucket: int | None, max_length: int) -> int | None:
    """What the task collator pads each batch's inputs to a multiple of: the run's choice, or, with a
    bucket, max_seq_length itself, so that every batch is [batch, max_seq_length] (the layers see
    only the packed rows, so the padding costs nothing) and only the packed length varies, in
    multiples of the bucket."""
    return max_length if bucket else pad_multiple


def seqlen_range(cu_seqlens: torch.Tensor) -> tuple[int, int]:
    """(shortest, longest) input of a packed batch, from its cumulative lengths, as Python ints."""
    lengths = cu_seqlens.diff()
    return int(lengths.min()), int(lengths.max())


class PaddingFreeCollator:
    """Wraps a task collator: adds the packing metadata of each batch (unpad_metadata), computed on
    the CPU (in the dataloader workers) so the training step never waits for the GPU to count. With
    `seqlen_bounds` (the varlen kernel), also the shortest and longest packed input as Python ints;
    without it the batch carries no Python numbers that a compiled graph would specialize on."""

    def __init__(self, collator, bucket: int | None = None, seqlen_bounds: bool = False):
        self.collator = collator
        self.bucket = bucket
        self.seqlen_bounds = seqlen_bounds

    def __call__(self, features):
        batch = self.collator(features)
        metadata = unpad_metadata(torch.as_tensor(batch["attention_mask"]), self.bucket)
        batch[INDICES_KEY], batch[SCATTER_KEY], batch[CU_SEQLENS_KEY] = metadata
        if self.seqlen_bounds:
            batch[SEQLEN_RANGE_KEY] = seqlen_range(metadata[2])
        return batch


def make_padding_free(
    model,
    collator,
    attention: str = "auto",
    bucket: int | None = None,
    device_type: str = "cpu",
    compiled: bool = False,
) -> PaddingFreeCollator:
    """Switch `model` to the padding-free forward and wrap its `collator` to feed it. The kernel is
    resolved once here for the device the run trains on (resolve_attention), so the collator knows
    whether varlen needs the length bounds. With `bucket`, `collator` must pad to a fixed length
    (the run pads to max_seq_length) for the shapes to stay few."""
    kernel = resolve_attention(attention, device_type, compiled)
    enable_padding_free(model, kernel, compiled)
    return PaddingFreeCollator(collator, bucket, seqlen_bounds=kernel == "varlen")
