"""Time extractive-QA feature building (sliding windows with stride) through datasets.map.

Synthetic examples (a ~10-word question, a ~150-word context, one answer span taken from the
context) are tokenized by `linkbert.finetune.tasks.qa.features.prepare_train_features` (or the eval variant) with
a tiny WordPiece tokenizer trained here into a temporary directory, through
`Dataset.map(batched=True, num_proc=...)` as the task module does. Only the map is timed.

    python bench/qa_tokenize_speed.py                                   # 100k examples, 1 process
    python bench/qa_tokenize_speed.py --num_examples 20000 --num_proc 2 --features eval --output tok.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import numpy as np

from linkbert.finetune.tasks.qa.features import prepare_eval_features, prepare_train_features
from linkbert.jsonl import atomic_output
from linkbert.tools.tiny_bert import build_tiny_bert

SYLLABLES = "ka lo mi nu pe ra si to vu we xa yo zi ba co de fi gu ha je".split()


def synthetic_examples(num_examples: int, context_words: int, rng: np.random.Generator) -> dict[str, list]:
    """Columns of a QA split; words are random 2-3 syllable strings, so WordPiece splits some."""
    vocabulary = np.array(
        ["".join(rng.choice(SYLLABLES, size=rng.integers(2, 4)).tolist()) for _ in range(5000)] + [",", "."]
    )
    columns = {"id": [], "question": [], "context": [], "answers": []}
    for index in range(num_examples):
        words = vocabulary[
            rng.integers(0, len(vocabulary), size=rng.integers(context_words // 2, context_words * 3 // 2))
        ].tolist()
        question = " ".join(vocabulary[rng.integers(0, len(vocabulary), size=rng.integers(6, 14))].tolist()) + "?"
        first = int(rng.integers(0, len(words) - 3))
        answer = " ".join(words[first : first + int(rng.integers(1, 4))])
        context = " ".join(words)
        answer_start = len(" ".join(words[:first])) + (1 if first else 0)
        columns["id"].append(f"q{index}")
        columns["question"].append(question)
        columns["context"].append(context)
        columns["answers"].append({"text": [answer], "answer_start": [answer_start]})
    return columns


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--num_examples", type=int, default=100_000)
    parser.add_argument("--num_proc", type=int, default=None, help="datasets.map worker processes (default: none)")
    parser.add_argument("--features", choices=["train", "eval"], default="train")
    parser.add_argument("--context_words", type=int, default=150)
    parser.add_argument("--max_seq_length", type=int, default=384)
    parser.add_argument("--doc_stride", type=int, default=128)
    parser.add_argument("--pad_to_max_length", action="store_true")
    parser.add_argument("--batch_size", type=int, default=1000, help="datasets.map batch size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", help="also write the timing as JSON here")
    args = parser.parse_args(argv)

    import datasets
    from transformers import AutoTokenizer

    datasets.disable_progress_bars()
    rng = np.random.default_rng(args.seed)
    columns = synthetic_examples(args.num_examples, args.context_words, rng)
    dataset = datasets.Dataset.from_dict(columns)
    with tempfile.TemporaryDirectory() as model_dir:
        build_tiny_bert(model_dir, columns["context"][:2000] + columns["question"][:2000], vocab_size=4000)
        tokenizer = AutoTokenizer.from_pretrained(model_dir)

    prepare = prepare_train_features if args.features == "train" else prepare_eval_features
    settings = {
        "tokenizer": tokenizer,
        "max_seq_length": args.max_seq_length,
        "doc_stride": args.doc_stride,
        "pad_to_max_length": args.pad_to_max_length,
    }
    began = time.perf_counter()
    features = dataset.map(
        prepare,
        batched=True,
        batch_size=args.batch_size,
        num_proc=args.num_proc,
        remove_columns=dataset.column_names,
        fn_kwargs=settings,
    )
    seconds = time.perf_counter() - began
    print(f"tokenized {args.num_examples} examples into {len(features)} {args.features} windows in {seconds:.2f} s")
    if args.output:
        result = vars(args) | {"num_windows": len(features), "seconds": seconds}
        with atomic_output(args.output) as handle:
            json.dump(result, handle, indent=2)


if __name__ == "__main__":
    main()
