"""LinkBertForPreTraining: a BERT encoder with the MLM head and the 3-way DRP head (ACL §4).

It is BertForPreTraining with the 2-way next-sentence head replaced by the document relation
prediction head (contiguous / random / linked), and loss = MLM loss + DRP loss, unweighted.

Parameter names are BERT's (`bert.*` for the encoder, `cls.predictions.*` for the MLM head, whose
decoder is tied to the word embeddings) plus `cls.drp.*`. Two consequences:
- `from_pretrained(<a BERT checkpoint>)` loads the encoder and MLM head, leaves out the 2-way NSP head
  (`cls.seq_relationship.*`, a different name) and initialises the 3-way DRP head fresh, which is how
  LinkBERT-base/large start from BERT (ACL §5.1);
- `save_pretrained` writes a standard BERT checkpoint (config model_type "bert") that
  AutoModelForSequenceClassification / ...QuestionAnswering / ...MaskedLM load unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F
from transformers import BertConfig, BertModel, BertPreTrainedModel
from transformers.models.bert.modeling_bert import BertLMPredictionHead
from transformers.utils import ModelOutput

NUM_RELATIONS = 3  # contiguous, random, linked (pairs.PAIR_TYPES)


@dataclass
class LinkBertPreTrainingOutput(ModelOutput):
    """loss = mlm_loss + drp_loss. `mlm_logits` covers only the masked positions (in row-major
    order of `labels != -100`) when labels are given, every position otherwise."""

    loss: torch.Tensor | None = None
    mlm_loss: torch.Tensor | None = None
    drp_loss: torch.Tensor | None = None
    mlm_logits: torch.Tensor | None = None
    drp_logits: torch.Tensor | None = None


class LinkBertPreTrainingHeads(nn.Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.predictions = BertLMPredictionHead(config)
        self.drp = nn.Linear(config.hidden_size, NUM_RELATIONS)


class LinkBertForPreTraining(BertPreTrainedModel):
    _tied_weights_keys = {
        "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias",
    }

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.bert = BertModel(config)  # with the pooler: DRP, like NSP, reads the pooled [CLS]
        self.cls = LinkBertPreTrainingHeads(config)
        self.post_init()

    def get_output_embeddings(self):
        return self.cls.predictions.decoder

    def set_output_embeddings(self, new_embeddings):
        self.cls.predictions.decoder = new_embeddings
        self.cls.predictions.bias = new_embeddings.bias

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        token_type_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        drp_labels: torch.Tensor | None = None,
    ) -> LinkBertPreTrainingOutput:
        encoded = self.bert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, return_dict=True)
        drp_logits = self.cls.drp(encoded.pooler_output)
        hidden = encoded.last_hidden_state
        if labels is None:
            return LinkBertPreTrainingOutput(mlm_logits=self.cls.predictions(hidden), drp_logits=drp_logits)
        # Only ~15% of positions carry an MLM label: projecting just those onto the vocabulary gives
        # the same loss as the full projection at a fraction of the cost (the largest matmul).
        selected = labels != -100
        mlm_logits = self.cls.predictions(hidden[selected])
        targets = labels[selected]
        # Sum / max(count, 1): a batch without any masked token gives 0, not NaN.
        mlm_loss = (
            F.cross_entropy(mlm_logits.float(), targets, reduction="sum") / targets.numel()
            if targets.numel()
            else mlm_logits.sum() * 0.0
        )
        loss = mlm_loss
        drp_loss = None
        if drp_labels is not None:
            drp_loss = F.cross_entropy(drp_logits.float(), drp_labels)
            loss = mlm_loss + drp_loss  # unweighted (ACL §4)
        return LinkBertPreTrainingOutput(
            loss=loss, mlm_loss=mlm_loss, drp_loss=drp_loss, mlm_logits=mlm_logits, drp_logits=drp_logits
        )


def from_bert_checkpoint(path: str, **kwargs) -> tuple[LinkBertForPreTraining, dict]:
    """Load a BERT (or LinkBERT) checkpoint; return the model and its loading report. Starting from
    BERT, the report lists `cls.drp.*` as newly initialised and the NSP head as unused."""
    model, info = LinkBertForPreTraining.from_pretrained(path, output_loading_info=True, **kwargs)
    return model, info


def from_config(config: BertConfig, seed: int) -> LinkBertForPreTraining:
    """A randomly initialised model, the same on every rank and run for a given seed, without
    disturbing the caller's global torch RNG."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return LinkBertForPreTraining(config)
