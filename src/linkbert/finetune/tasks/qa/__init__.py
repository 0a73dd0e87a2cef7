"""Extractive QA (MRQA): the task (`task`), its sliding-window features (`features`) and the span
decoding of the model's start/end logits back into answers (`decode`)."""

from linkbert.finetune.tasks.qa.task import ExtractiveQA, QADataArguments

__all__ = ["ExtractiveQA", "QADataArguments"]
