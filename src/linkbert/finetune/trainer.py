"""The Trainer of every fine-tuning task, and what it writes beside the Trainer's own files.

`TaskTrainer` evaluates by decoding the model outputs into per-example predictions with the task and
scoring those (instead of a metric on raw logits), which lets QA score answers assembled across
windows and HoC score whole documents, during training and after; `predict_split` returns the
metrics and the decoded predictions. It also keeps the original's loss arithmetic under gradient
accumulation (see `TaskTrainer.__init__`), and writes each checkpoint under a temporary name with the
run's settings, renaming it into place once complete, so a resume finds only whole checkpoints and
can tell whether it continues the same run (`linkbert.runs`).
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from pathlib import Path

from transformers import Trainer, TrainerCallback
from transformers.trainer_callback import PrinterCallback
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR, rotate_checkpoints, speed_metrics

from linkbert.errors import OutputError, UsageError, disk_full
from linkbert.finetune.data import Split
from linkbert.finetune.raw_outputs import RawOutputs
from linkbert.finetune.tasks.base import Decoded, Task
from linkbert.jsonl import atomic_output
from linkbert.runs import latest_checkpoint, publish_checkpoint, publish_files, save_settings, staging_dir, write_json

logger = logging.getLogger("linkbert")
# metric key prefix -> file prefix: keys eval_* / test_*, files eval_* / predict_*, as the original
# scripts and the HuggingFace examples name them
FILE_PREFIX = {"eval": "eval", "test": "predict"}


class TaskTrainer(Trainer):
    """A Trainer whose evaluation decodes the model outputs into per-example predictions with the
    task and scores those, instead of computing a metric on raw logits. This is what lets QA score
    answers assembled across windows and HoC score whole documents, during training and after."""

    def __init__(self, *args, task: Task, run_settings: dict, eval_split: Split | None = None, **kwargs):
        self._staging: Path | None = None
        super().__init__(*args, **kwargs)
        # The original's step loss is the mean of its micro-batches' mean losses. transformers 5 sets
        # `model_accepts_loss_kwargs` when the model's forward takes **kwargs (every BERT head does) and
        # then expects the model to normalise by `num_items_in_batch`: it skips the division by the
        # accumulation count in `training_step` and, under DDP, multiplies the loss by the number of
        # processes (`average_tokens_across_devices`). The BERT heads ignore `num_items_in_batch` and
        # return a plain mean, so with the flag set the backpropagated and logged loss would be
        # accumulation-count (and world-size) times too large. Turning it off restores the division.
        self.model_accepts_loss_kwargs = False
        self.task = task
        self.eval_split = eval_split
        # without a progress bar the Trainer prints each log dict; route them through logging instead,
        # so --log_level (and the demo) can quiet them
        if self.pop_callback(PrinterCallback) is not None:
            self.add_callback(LogToLogger())
        self.run_settings = run_settings  # saved with every checkpoint (linkbert.runs.check_resume)

    def _get_output_dir(self, trial) -> str:
        # While a checkpoint is saved, the Trainer writes it under the staging folder (see _save_checkpoint).
        if self._staging is not None:
            return str(self._staging)
        return super()._get_output_dir(trial)

    def _save_checkpoint(self, model, trial) -> None:
        """The Trainer's checkpoint, written to output_dir/.staging/checkpoint-N with the run's
        settings and then renamed into place, so a run killed mid-write (or a full disk) never leaves
        a checkpoint-N that a rerun would take for a complete one."""
        output_dir = super()._get_output_dir(trial)
        name = f"{PREFIX_CHECKPOINT_DIR}-{self.state.global_step}"
        self._staging = staging_dir(output_dir)
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging = None
        self.accelerator.wait_for_everyone()  # every rank has written its RNG state
        if self.args.should_save:
            save_settings(staging_dir(output_dir) / name, self.run_settings)
            publish_checkpoint(output_dir, name)
            best = self.state.best_global_step
            if best and (Path(output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{best}").is_dir():
                self.state.best_model_checkpoint = str(Path(output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{best}")
            rotate_checkpoints(output_dir, self.args.save_total_limit, self.state.best_model_checkpoint)
        self.accelerator.wait_for_everyone()

    def log_metrics(self, split: str, metrics: dict) -> None:
        """The Trainer prints a metrics block; here it is logged, one line per split."""
        if self.is_world_process_zero():
            shown = ", ".join(
                f"{key} {value:.4g}" if isinstance(value, float) else f"{key} {value}"
                for key, value in sorted(metrics.items())
            )
            logger.info("%s: %s", split, shown)

    def save_metrics(self, split: str, metrics: dict, combined: bool = True) -> None:
        """`<split>_results.json` and the merged `all_results.json`, as the Trainer writes them (indent
        4, sorted keys), but each written atomically: a full disk never leaves half a results file."""
        if not self.is_world_process_zero():
            return
        output_dir = Path(self.args.output_dir)
        write_json(output_dir / f"{split}_results.json", metrics, indent=4, sort_keys=True)
        if combined:
            path = output_dir / "all_results.json"
            try:
                merged = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
            except ValueError:
                merged = {}  # an unreadable older file is replaced, not trusted
            write_json(path, {**merged, **metrics}, indent=4, sort_keys=True)

    def save_final(self) -> None:
        """The fine-tuned model, its tokenizer and the trainer state, into output_dir. Called after the
        results files are written, so a full disk at the end loses the weights, not the results; the
        files are written in the staging folder and each moved into place once complete."""
        output_dir = Path(self.args.output_dir)
        final = staging_dir(output_dir) / "final"
        try:
            self.save_model(str(final))
            if self.args.should_save:
                self.state.save_to_json(str(final / "trainer_state.json"))
        except Exception as err:
            if disk_full(err):  # safetensors reports a full disk as its own error type
                shutil.rmtree(final, ignore_errors=True)
                try:
                    staging_dir(output_dir).rmdir()  # nothing half-written is left, not even the folder
                except OSError:
                    pass  # not empty: a checkpoint is being staged
                raise OutputError(
                    output_dir, "no space left on the device while saving the model; " + _rerun_advice(output_dir)
                ) from None
            raise
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            publish_files(final, output_dir)
        self.accelerator.wait_for_everyone()

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        step = super().prediction_step
        if not uses_cuda_graphs(self.args):
            return step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys)
        return cuda_graph_step(lambda: step(model, inputs, prediction_loss_only, ignore_keys=ignore_keys))

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        """The Trainer's evaluation hook (eval_strategy): scores the validation split it was built with."""
        if eval_dataset is not None:
            raise UsageError("TaskTrainer.evaluate scores the split it was built with; use predict_split for others")
        metrics, _ = self.evaluate_split(self.eval_split, ignore_keys=ignore_keys)
        return metrics

    def evaluate_split(self, split: Split, ignore_keys=None) -> tuple[dict[str, float], Decoded]:
        """predict_split under the "eval" prefix, logged and reported to callbacks as an evaluation."""
        metrics, decoded = self.predict_split(split, "eval", ignore_keys=ignore_keys)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics, decoded

    def predict_split(self, split: Split, metric_key_prefix: str, ignore_keys=None) -> tuple[dict[str, float], Decoded]:
        """Run the model over split.features, decode per example, score when the split is labelled;
        return the metrics (keys prefixed; only counts and timings for an unlabelled split) and what
        decoding produced."""
        evaluating = metric_key_prefix == "eval"
        dataloader = (
            self.get_eval_dataloader(split.features) if evaluating else self.get_test_dataloader(split.features)
        )
        start = time.time()
        output = self.evaluation_loop(
            dataloader,
            description="Evaluation" if evaluating else "Prediction",
            prediction_loss_only=False,
            ignore_keys=ignore_keys,
            metric_key_prefix=metric_key_prefix,
        )
        decoded = self.task.decode(output, split, FILE_PREFIX[metric_key_prefix])
        metrics = dict(output.metrics)
        if split.labelled:
            metrics.update(
                {f"{metric_key_prefix}_{key}": value for key, value in self.task.score(decoded.records).items()}
            )
        batches = -(-output.num_samples // (self.args.eval_batch_size * self.args.world_size))
        metrics.update(speed_metrics(metric_key_prefix, start, num_samples=output.num_samples, num_steps=batches))
        if self.state.epoch is not None:
            metrics["epoch"] = self.state.epoch
        return metrics, decoded


class LogToLogger(TrainerCallback):
    """The training log (loss, learning rate, evaluation metrics) as INFO lines."""

    def on_log(self, args, state, control, logs=None, **kwargs):
        if state.is_world_process_zero and logs:
            logger.info(
                "step %d: %s",
                state.global_step,
                {key: round(v, 6) if isinstance(v, float) else v for key, v in logs.items()},
            )


def uses_cuda_graphs(args) -> bool:
    """Whether the compiled model replays CUDA graphs: the compile modes that record them."""
    return bool(args.torch_compile) and args.torch_compile_mode in ("reduce-overhead", "max-autotune")


def cuda_graph_step(step):
    """Run one prediction step of a model compiled with CUDA graphs. Without training steps between
    them (prediction only, as the MMLU step runs), nothing tells the graphs that a new step began,
    and each replay writes its outputs into the same memory as the last: the evaluation loop, which
    keeps the previous batch's logits until it concatenates them, would read overwritten values. So
    each step is marked as a new one, and its outputs are copied out of the graph's memory."""
    import torch

    torch.compiler.cudagraph_mark_step_begin()
    return _copied(step())


def _copied(value):
    import torch

    if torch.is_tensor(value):
        return value.clone()
    if isinstance(value, tuple | list):
        return type(value)(_copied(item) for item in value)
    if isinstance(value, dict):
        return {key: _copied(item) for key, item in value.items()}
    return value


def write_predictions(output_dir: Path, file_prefix: str, decoded: Decoded) -> None:
    """`<prefix>_predictions.jsonl` (one record per example) and the task's further files, each atomically."""
    with atomic_output(output_dir / f"{file_prefix}_predictions.jsonl") as handle:
        for record in decoded.records:
            handle.write(json.dumps(record) + "\n")
    for filename, content in decoded.files.items():
        if isinstance(content, RawOutputs):  # an index JSON and its .npz
            content.save(output_dir / filename)
            continue
        with atomic_output(output_dir / filename) as handle:
            json.dump(content, handle, indent=2)


def _rerun_advice(output_dir: Path) -> str:
    """What a user does after the final save failed: the results files are already written."""
    last = latest_checkpoint(output_dir)
    if last is not None:
        return f"the results files are written; free space and rerun the same command (it resumes from {last.name})"
    return (
        "the results files are written; free space and rerun with --overwrite_output_dir (no checkpoint to resume from)"
    )
