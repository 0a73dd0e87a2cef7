"""Seed ensembles: average the saved test logits of several runs of one task and score the average
with the task's own metric, beside each member's score.

    python scripts/ensemble.py runs/chemprot_hf/BioLinkBERT-base/seed1 runs/chemprot_hf/BioLinkBERT-base/seed2

Each member is a finished fine-tuning run folder: its `run_info.json` names the entry script, flags
and data, `test_outputs` (`predict_outputs` for multiple choice) holds its raw test logits. The
members must have scored the same test file (same sha256) with the same label map. The task is
rebuilt exactly as the runs built it (label set read from their train file, test file tokenized with
the saved tokenizer), the averaged logits are decoded by the task and scored by its metric. QA runs
keep no raw logits, as in the original, so they cannot be ensembled here.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from linkbert.errors import UsageError
from linkbert.finetune.raw_outputs import RawOutputs, load_raw_outputs
from linkbert.jsonl import read_json

# task (run_info.json) -> (task class, the file its raw test logits are in)
TASKS = {
    "seqcls": ("linkbert.finetune.tasks.seqcls:SequenceClassification", "test_outputs.json"),
    "tokcls": ("linkbert.finetune.tasks.tokcls:TokenClassification", "test_outputs.json"),
    "mc": ("linkbert.finetune.tasks.mc:MultipleChoice", "predict_outputs.json"),
}


@dataclass
class Member:
    path: Path
    entry: str
    argv: list[str]
    test_sha256: str
    outputs: RawOutputs
    metrics: dict  # its own predict_results.json


def read_member(path: str | Path) -> Member:
    path = Path(path)
    info = read_json(path / "run_info.json")
    entry = info.get("task")
    if entry not in TASKS:
        raise UsageError(
            f"{path}: a {entry} run; seed ensembles cover {', '.join(TASKS)} (QA keeps no raw logits, as the original)"
        )
    outputs_file = path / TASKS[entry][1]
    if not outputs_file.is_file():
        raise UsageError(f"{path}: no {outputs_file.name}: the run did not predict on a test file")
    test = info["data"].get("test")
    if test is None:
        raise UsageError(f"{path}: the run had no --test_file")
    return Member(
        path,
        entry,
        info["argv"],
        test["sha256"],
        load_raw_outputs(outputs_file),
        read_json(path / "predict_results.json"),
    )


def check_members(members: list[Member]) -> None:
    if len(members) < 2:
        raise UsageError("an ensemble needs at least two runs")
    first = members[0]
    for member in members[1:]:
        if member.entry != first.entry:
            raise UsageError(f"{member.path} is a {member.entry} run, {first.path} a {first.entry} run")
        if member.test_sha256 != first.test_sha256:
            raise UsageError(f"{member.path} scored another test file than {first.path} (sha256 differs)")
        if len(member.outputs.predictions) != len(first.outputs.predictions):
            counts = f"{len(member.outputs.predictions)} vs {len(first.outputs.predictions)}"
            raise UsageError(f"{member.path} and {first.path} hold different numbers of test rows ({counts})")
        if _label_map(member.path) != _label_map(first.path):
            raise UsageError(f"{member.path} and {first.path} have different label maps (config.json id2label)")


def _label_map(path: Path) -> dict:
    return read_json(path / "config.json").get("id2label", {})


def rebuild_task_and_test_split(member: Member):
    """The member's task with its label scheme (from its train file, as the run read it) and its
    test split tokenized with the member's saved tokenizer."""
    from transformers import AutoTokenizer

    from linkbert.finetune.args import parse_args
    from linkbert.finetune.data import SPLITS, Split, check_file, load_examples

    module, name = TASKS[member.entry][0].split(":")
    task_class = getattr(importlib.import_module(module), name)
    _, data_args, _ = parse_args(task_class.data_args_class, member.argv)
    task = task_class(data_args)
    for split in ("train", "test"):  # in the run's order, with the run's example caps
        file_flag, _, cap = SPLITS[split]
        if getattr(data_args, file_flag) is not None:
            check_file(
                Path(getattr(data_args, file_flag)), partial(task.check_record, split), limit=getattr(data_args, cap)
            )
            task.finish_check(split)
    tokenizer = AutoTokenizer.from_pretrained(member.path)
    examples = load_examples(Path(data_args.test_file), limit=data_args.max_predict_samples)
    features = examples.map(
        partial(task.featurize, tokenizer=tokenizer, split="test"), batched=True, remove_columns=examples.column_names
    )
    return task, Split("test", Path(data_args.test_file), examples, features)


def average_logits(members: list[Member]) -> np.ndarray:
    """The mean of the members' logits per example, as the Trainer lays them out: [N, ...], token
    rows padded with -100 to the longest."""
    rows = [
        np.mean([member.outputs.predictions[i] for member in members], axis=0)
        for i in range(len(members[0].outputs.predictions))
    ]
    if not members[0].outputs.per_token:
        return np.stack(rows)
    width = max(row.shape[0] for row in rows)
    padded = np.full((len(rows), width, *rows[0].shape[1:]), -100.0, dtype=np.float32)
    for index, row in enumerate(rows):
        padded[index, : row.shape[0]] = row
    return padded


def ensemble(paths: list[str | Path]) -> dict:
    """Each member's test metrics and the ensemble's, plus the ensemble's per-example records."""
    members = [read_member(path) for path in paths]
    check_members(members)
    task, split = rebuild_task_and_test_split(members[0])
    decoded = task.decode(SimpleNamespace(predictions=average_logits(members), label_ids=None), split, "predict")
    if not decoded.records or any(record["label"] is None for record in decoded.records):
        raise UsageError(f"{split.path}: the test file has no labels to score an ensemble against")
    scores = {f"test_{key}": value for key, value in task.score(decoded.records).items()}
    return {
        "members": {str(member.path): {key: member.metrics.get(key) for key in scores} for member in members},
        "ensemble": scores,
        "records": decoded.records,
    }


def write_ensemble(result: dict, output_dir: Path) -> None:
    from linkbert.jsonl import write_jsonl
    from linkbert.runs import write_json

    write_jsonl(output_dir / "ensemble_predictions.jsonl", result["records"])
    write_json(output_dir / "ensemble_results.json", {"members": result["members"], "ensemble": result["ensemble"]})


def format_result(result: dict) -> str:
    keys = list(result["ensemble"])
    lines = ["| run | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for path, metrics in result["members"].items():
        lines.append(f"| {path} | " + " | ".join(_number(metrics.get(key)) for key in keys) + " |")
    lines.append(
        "| **ensemble (mean of logits)** | " + " | ".join(_number(result["ensemble"][key]) for key in keys) + " |"
    )
    return "\n".join(lines)


def _number(value) -> str:
    return "—" if value is None else f"{value:.4f}"


def main_body(paths: list[str], output_dir: str | None) -> None:
    result = ensemble(paths)
    print(format_result(result))
    if output_dir:
        write_ensemble(result, Path(output_dir))
        print(
            json.dumps(
                {
                    "written": [
                        str(Path(output_dir) / name) for name in ("ensemble_results.json", "ensemble_predictions.jsonl")
                    ]
                }
            )
        )
