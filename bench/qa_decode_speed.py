"""Time extractive-QA decoding (linkbert.finetune.tasks.qa.decode.postprocess_predictions) on synthetic data.

Each example has 1-3 windows of `--seq_len` positions laid out as the evaluation features are:
[CLS], a 16-token question, [SEP], context tokens, [SEP], with consecutive windows sharing
`--doc_stride` context tokens. Contexts are just long enough to fill their windows (so every
position of a window is real, the costly case); logits are standard normal. Features are held in a
datasets.Dataset (Arrow), as the Trainer's evaluation hands them over. Only the decoding is timed.

    python bench/qa_decode_speed.py                      # 10k examples, prints seconds
    python bench/qa_decode_speed.py --num_examples 50000 --output decode_speed.json
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from linkbert.finetune.tasks.qa.decode import postprocess_predictions
from linkbert.jsonl import atomic_output

QUESTION_TOKENS = 16
WORD_LENGTH = 3  # every synthetic context token is a 3-letter word followed by a space


def synthetic_split(num_examples: int, seq_len: int, doc_stride: int, rng: np.random.Generator):
    """(examples Dataset, features Dataset, number of windows per example)."""
    import datasets
    import pyarrow as pa

    room = seq_len - QUESTION_TOKENS - 3
    windows = rng.integers(1, 4, size=num_examples)
    context_tokens = room + (windows - 1) * (room - doc_stride)
    letters = rng.integers(ord("a"), ord("z") + 1, size=(1000, WORD_LENGTH), dtype=np.uint32)
    vocabulary = np.array(["".join(map(chr, word)) for word in letters])
    contexts = [" ".join(vocabulary[rng.integers(0, len(vocabulary), size=n)].tolist()) for n in context_tokens]

    window_example = np.repeat(np.arange(num_examples), windows)
    window_index = np.arange(len(window_example)) - np.repeat(np.cumsum(windows) - windows, windows)
    first_token = window_index * (room - doc_stride)
    token = first_token[:, None] + np.arange(room)[None, :]  # [F, room] context token numbers
    char_start = token * (WORD_LENGTH + 1)
    context_pairs = np.stack([char_start, char_start + WORD_LENGTH], axis=-1)
    outside = np.full((len(window_example), QUESTION_TOKENS + 2, 2), -1)
    pairs = np.concatenate([outside, context_pairs, np.full((len(window_example), 1, 2), -1)], axis=1)

    # Build the list<list<int64>> column straight in Arrow: 20k x 384 Python pairs would take longer
    # to create than the decoding this script measures.
    flat = pa.array(pairs.reshape(-1).astype(np.int64))
    pair_lists = pa.ListArray.from_arrays(pa.array(np.arange(0, len(flat) + 1, 2, dtype=np.int32)), flat)
    window_lists = pa.ListArray.from_arrays(
        pa.array(np.arange(0, len(pair_lists) + 1, seq_len, dtype=np.int32)), pair_lists
    )
    ids = [f"q{i}" for i in range(num_examples)]
    features = datasets.Dataset(
        datasets.table.InMemoryTable(
            pa.table({"example_id": pa.array([ids[i] for i in window_example]), "offset_mapping": window_lists})
        )
    )
    examples = datasets.Dataset.from_dict({"id": ids, "context": contexts})
    return examples, features


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--num_examples", type=int, default=10_000)
    parser.add_argument("--seq_len", type=int, default=384)
    parser.add_argument("--doc_stride", type=int, default=128)
    parser.add_argument("--n_best_size", type=int, default=20)
    parser.add_argument("--max_answer_length", type=int, default=30)
    parser.add_argument("--version_2_with_negative", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="also write the timing as JSON here")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    examples, features = synthetic_split(args.num_examples, args.seq_len, args.doc_stride, rng)
    start_logits = rng.standard_normal((len(features), args.seq_len), dtype=np.float32)
    end_logits = rng.standard_normal((len(features), args.seq_len), dtype=np.float32)

    began = time.perf_counter()
    postprocess_predictions(
        examples,
        features,
        start_logits,
        end_logits,
        args.n_best_size,
        args.max_answer_length,
        args.version_2_with_negative,
    )
    seconds = time.perf_counter() - began
    print(f"decoded {args.num_examples} examples ({len(features)} windows of {args.seq_len}) in {seconds:.2f} s")
    if args.output:
        result = vars(args) | {"num_windows": len(features), "seconds": seconds}
        with atomic_output(args.output) as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
