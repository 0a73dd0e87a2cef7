"""What pretraining logs: MLM loss, DRP loss and DRP accuracy per pair type, summed over one logging
window and over processes, plus tokens per second and a FLOP estimate for MFU.

The sums stay on the training device and are read only when a line is logged: `add` uses only
fixed-shape tensor operations (no `bincount`, whose output size depends on the data, no `.item()`),
so on CUDA it queues work without waiting for the step to finish."""

from __future__ import annotations

import time

import torch

from linkbert.pretrain.distributed import Dist
from linkbert.pretrain.pairs import PAIR_TYPES


class Meter:
    """Sums over one logging window, reduced over processes: MLM loss, DRP loss, DRP hits and
    counts per pair type, tokens."""

    def __init__(self, device: torch.device):
        self.device = device
        self.reset()

    def reset(self) -> None:
        # [mlm_loss_sum, drp_loss_sum, micro_batches, tokens, sequences, hits x3, counts x3]
        self.sums = torch.zeros(5 + 2 * len(PAIR_TYPES), dtype=torch.float64, device=self.device)
        self.started = time.time()

    def add(self, output, batch: dict) -> None:
        labels = batch["drp_labels"]
        hits = (output.drp_logits.argmax(-1) == labels).double()
        one_hot = (labels[:, None] == torch.arange(len(PAIR_TYPES), device=labels.device)).double()
        counts = one_hot.sum(0)
        correct = (one_hot * hits[:, None]).sum(0)
        tokens = batch["attention_mask"].sum().double()
        one = torch.ones((), dtype=torch.float64, device=self.device)
        head = torch.stack(
            [output.mlm_loss.detach().double(), output.drp_loss.detach().double(), one, tokens, one * len(labels)]
        )
        self.sums += torch.cat([head, correct, counts])

    def result(self, env: Dist) -> dict:
        sums = self.sums.clone()
        if env.world_size > 1:
            torch.distributed.all_reduce(sums)
        mlm, drp, micro, tokens, sequences = sums[:5].tolist()
        k = len(PAIR_TYPES)
        hits, counts = sums[5 : 5 + k].tolist(), sums[5 + k :].tolist()
        seconds = max(time.time() - self.started, 1e-9)
        out = {
            "mlm_loss": mlm / micro,
            "drp_loss": drp / micro,
            "loss": (mlm + drp) / micro,
            "drp_accuracy": sum(hits) / max(1.0, sum(counts)),
        }
        for name, hit, count in zip(PAIR_TYPES, hits, counts, strict=True):
            out[f"drp_accuracy_{name}"] = hit / count if count else None
            out[f"drp_count_{name}"] = int(count)
        out["tokens_per_second"] = tokens / seconds
        out["mean_length"] = tokens / max(1.0, sequences)
        return out


def flops_per_token(config, seq_len: float) -> float:
    """Training FLOPs per token, nanoGPT's estimate: 6 x non-embedding parameters plus attention."""
    layers, hidden = config.num_hidden_layers, config.hidden_size
    params = layers * (4 * hidden * hidden + 2 * hidden * config.intermediate_size)
    return 6 * params + 12 * layers * hidden * seq_len
