"""Bucketing gives a compiled training step few shapes: over one epoch, counted on the CPU.

bench/compile_check.py runs an epoch through the run's collators and a step compiled with
dynamic=False (one graph per input shape, what CUDA graphs also record) and reports the distinct
input shapes and the graphs compiled; the expected counts are worked out here from the lengths."""

import math
import random

import pytest
from helpers import REPO, load_module

compile_check = load_module(REPO / "bench" / "compile_check.py", "compile_check")

BATCH, MAX_LENGTH, BUCKET = 8, 64, 64
LENGTHS = compile_check.skewed_lengths(96, MAX_LENGTH, seed=3)


def epoch_lengths() -> list[list[int]]:
    """The epoch's batches of lengths, in the order compile_check draws them (seeded shuffle)."""
    order = list(range(len(LENGTHS)))
    random.Random(0).shuffle(order)
    lengths = [LENGTHS[index] for index in order]
    return [lengths[start : start + BATCH] for start in range(0, len(lengths), BATCH)]


@pytest.mark.slow
def test_bucketing_shows_the_compiled_step_one_input_shape_and_few_packed_lengths():
    batches = epoch_lengths()
    # the packed rows of a batch: its real tokens plus at least one filler row, rounded up to the bucket
    packed = {math.ceil((sum(batch) + 1) / BUCKET) * BUCKET for batch in batches}
    row = compile_check.check(
        "padding_free_bucketed", LENGTHS, BATCH, MAX_LENGTH, BUCKET, backend="eager", dynamic=False
    )
    assert row["shapes"]["input_ids"] == [[BATCH, MAX_LENGTH]]
    assert row["shapes"]["cu_seqlens"] == [[BATCH + 2]]  # batch + filler input + the leading 0
    assert sorted(shape[0] for shape in row["shapes"]["unpad_indices"]) == sorted(packed)
    assert len(packed) <= BATCH * MAX_LENGTH // BUCKET
    assert row["graphs_compiled"] == len(packed)  # one graph per packed length, nothing else
    assert row["recompilations"] == len(packed) - 1
    assert row["graph_breaks"] == 0


@pytest.mark.slow
def test_without_bucketing_every_batch_length_is_a_new_graph():
    batches = epoch_lengths()
    longest = {max(batch) for batch in batches}
    row = compile_check.check("padded", LENGTHS, BATCH, MAX_LENGTH, BUCKET, backend="eager", dynamic=False)
    assert sorted(shape[1] for shape in row["shapes"]["input_ids"]) == sorted(longest)
    assert row["graphs_compiled"] == len(longest) > 3
    assert row["graph_breaks"] == 0
