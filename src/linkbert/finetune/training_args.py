"""The Trainer's own flags plus the original's --overwrite_output_dir, with --output_dir required.

Kept apart from linkbert.finetune.args because importing transformers' TrainingArguments imports
torch (seconds): `--help` and the early checks of a run do without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import TrainingArguments


@dataclass
class LinkBertTrainingArguments(TrainingArguments):
    # transformers 5 trains into ./trainer_output without it; the original required the flag
    output_dir: str | None = field(
        default=None, metadata={"help": "Where the model, checkpoints, results and predictions are written (required)"}
    )
    overwrite_output_dir: bool = field(
        default=False,
        metadata={
            "help": "Train from scratch even if output_dir already holds files or checkpoints (removed from "
            "transformers 5; kept for the recipes)"
        },
    )

    def __post_init__(self):
        if not self.output_dir:
            raise ValueError(
                "--output_dir is required: the folder where the model, results and predictions are written"
            )
        super().__post_init__()
