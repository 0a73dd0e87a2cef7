"""Multiple-choice QA (MedQA-USMLE, MMLU professional medicine), as the original
mc/run_multiple_choice.py (itself HuggingFace's run_swag).

Records: `{"id", "sent1": question, "sent2": header ("" in our data), "ending0".."ending{k-1}",
"label": index of the right ending}`. k is the number of `ending*` fields of the first record read
(of train when training; 4 for MedQA and MMLU). The original read it from the train columns, so
it needed a train file even for predict-only runs (the MMLU recipe still passes its dev set as
--train_file); here a run without --do_train reads no train file. Each option is scored as the pair
(sent1, sent2 + " " + ending_i); the model picks the highest-scoring option, and each record also
carries `probabilities`, the softmax over the options. A test file may have no `label` at all
(prediction on new questions): nothing is scored.
"""

from __future__ import annotations

from linkbert.errors import FieldError
from linkbert.finetune.data import Split, require
from linkbert.finetune.metrics import classification
from linkbert.finetune.raw_outputs import raw_outputs
from linkbert.finetune.tasks.base import (
    Decoded,
    Task,
    check_optional_id,
    logits,
    softmax,
)


class MultipleChoice(Task):
    name = "mc"

    def __init__(self, data_args):
        super().__init__(data_args)
        self.endings: list[str] = []

    @property
    def model_class(self):
        from transformers import AutoModelForMultipleChoice

        return AutoModelForMultipleChoice

    # ----- validation -----
    def check_record(self, split: str, record: dict) -> None:
        if not self.endings:
            count = sum(1 for key in record if key.startswith("ending"))
            if count < 2:
                raise FieldError(
                    "ending0", f"expected at least two options ending0, ending1, ...; found {count} 'ending*' fields"
                )
            self.endings = [f"ending{index}" for index in range(count)]
        require(record, "sent1", str, "the question text")
        require(record, "sent2", str, 'the text put before each option ("" for none)')
        for name in self.endings:
            require(
                record,
                name,
                str,
                f"option text (every record has {len(self.endings)} options, like the first record read)",
            )
        check_optional_id(record)
        if not self.label_present(split, record, "label"):
            return
        label = require(record, "label", int, f"the index of the right option, 0..{len(self.endings) - 1}")
        if not 0 <= label < len(self.endings):
            raise FieldError(
                "label", f"expected the index of the right option, 0..{len(self.endings) - 1}, got {label}"
            )

    # ----- model -----
    def featurize(self, batch: dict[str, list], tokenizer, split: str) -> dict[str, list]:
        k = len(self.endings)
        firsts = [question for question in batch["sent1"] for _ in range(k)]
        seconds = [f"{header} {batch[name][row]}" for row, header in enumerate(batch["sent2"]) for name in self.endings]
        flat = tokenizer(
            firsts,
            seconds,
            truncation=True,  # longest_first, as the original
            max_length=self.max_length(tokenizer),
            padding=self.padding(),
        )
        # regroup the k pairs of each example: every field becomes [example][option][token]
        features = {
            key: [values[start : start + k] for start in range(0, len(values), k)] for key, values in flat.items()
        }
        if self.labelled(split):
            features["labels"] = list(batch["label"])
        return features

    # ----- outputs -----
    def decode(self, output, split: Split, file_prefix: str) -> Decoded:
        examples = split.examples
        scores = logits(output.predictions)
        labels = examples["label"] if split.labelled else [None] * len(examples)
        records = []
        for example_id, prediction, label, probabilities in zip(
            examples["id"], scores.argmax(axis=-1).tolist(), labels, softmax(scores).tolist(), strict=True
        ):
            record = {"id": example_id, "prediction": prediction}
            if split.labelled:
                record["label"] = label
            record["probabilities"] = probabilities
            records.append(record)
        # as the original: the prediction split's option logits [N, k] and label ids
        return Decoded(records, {"predict_outputs.json": raw_outputs(output)} if file_prefix == "predict" else {})

    def score(self, records: list[dict]) -> dict[str, float]:
        return classification.accuracy([r["prediction"] for r in records], [r["label"] for r in records])
