"""Peak memory and throughput of build_pairs on synthetic Wikipedia-sized corpora, extrapolated to 1M
documents.

    OMP_NUM_THREADS=1 python bench/build_pairs_memory.py --sizes 25000,50000,100000 \
        --output bench/results/cpu-2core-build-pairs.json

Each corpus is generated here (seeded): documents of about 420 words (English Wikipedia's ~2.5B
words over ~6M articles) in sentences of 8-30 words, over a 5,000-word vocabulary with Zipf
frequencies, and about 25 links per document (Wikipedia's ~150M internal links over ~6M articles)
to targets drawn with probability proportional to 1 / (rank + 10), so a few hubs gather many links.
The WordPiece vocabulary is built locally (every word one token, letters as fallback).

build_pairs runs in a child process with the paper's segment settings (max_seq_length 512,
segment_length 254). Reported per run: the largest resident set of any one process of the run
(`os.wait4`'s ru_maxrss, which covers the workers the child waited for); the peak of the sum over
the process tree sampled every 0.2 s with psutil (memory-mapped pages shared between processes
count once per process there, so it is an upper bound); the peak of the tree's anonymous memory
(RssAnon: what the processes allocated, without the pages of memory-mapped token and pair files,
which are page cache the kernel can drop); wall-clock seconds and seconds per million documents.
A straight line through the peaks at the measured sizes gives the 1M-document estimate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

from linkbert.cli import ArgumentParser, flags

ROOT = Path(__file__).resolve().parents[1]
VOCAB_WORDS = 5000
MEAN_WORDS = 420
MEAN_LINKS = 25


def make_vocab(rng: np.random.Generator) -> list[str]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words: set[str] = set()
    while len(words) < VOCAB_WORDS:
        words.add("".join(rng.choice(letters, size=int(rng.integers(3, 10)))))
    return sorted(words)


def save_tokenizer(folder: Path, words: list[str]) -> None:
    from transformers import BertTokenizerFast

    letters = list("abcdefghijklmnopqrstuvwxyz")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", *letters, *(f"##{c}" for c in letters), *words]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("".join(token + "\n" for token in vocab))
    BertTokenizerFast(vocab=str(folder / "vocab.txt")).save_pretrained(folder)


def write_corpus(path: Path, num_docs: int, words: list[str], seed: int) -> None:
    """num_docs JSON lines: ~MEAN_WORDS words in sentences, ~MEAN_LINKS links to hub-biased targets."""
    rng = np.random.default_rng(seed)
    word_array = np.array(words)
    # cumulative distributions, drawn from by searchsorted (rng.choice with p recomputes them per call)
    word_cdf = np.cumsum(1.0 / np.arange(1, len(words) + 1))
    target_cdf = np.cumsum(1.0 / (np.arange(num_docs) + 10.0))
    with open(path, "w", encoding="utf-8") as handle:
        for doc in range(num_docs):
            count = max(8, int(rng.exponential(MEAN_WORDS)))
            tokens = word_array[np.searchsorted(word_cdf, rng.random(count) * word_cdf[-1])]
            ends = np.cumsum(rng.integers(8, 31, size=count // 8 + 1))
            starts = np.r_[0, ends[:-1]]
            sentences = [" ".join(tokens[a:b]) + "." for a, b in zip(starts, ends, strict=True) if a < count]
            links = np.searchsorted(target_cdf, rng.random(int(rng.poisson(MEAN_LINKS))) * target_cdf[-1])
            record = {"id": f"doc{doc}", "text": " ".join(sentences), "links": [f"doc{t}" for t in links]}
            handle.write(json.dumps(record) + "\n")


def anonymous_kb(pid: int) -> int:
    """RssAnon of a process (Linux): its heap and other private memory, without the pages of
    memory-mapped files, which the kernel can drop and re-read at any time."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("RssAnon:"):
            return int(line.split()[1])
    return 0


def run_measured(cmd: list[str], env: dict) -> dict:
    """Run cmd; return its exit status, seconds, largest single-process RSS and sampled tree RSS."""
    import psutil

    start = time.time()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak_tree, peak_anon, done = [0], [0], threading.Event()

    def sample():  # never polls the process: os.wait4 below must be the one to reap it
        parent = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak_tree[0] = max(peak_tree[0], sum(p.memory_info().rss for p in tree))
                peak_anon[0] = max(peak_anon[0], sum(anonymous_kb(p.pid) for p in tree) * 1024)
            except (psutil.Error, OSError):
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    done.set()
    sampler.join()
    return {
        "exit_status": os.waitstatus_to_exitcode(status),
        "seconds": round(time.time() - start, 1),
        "peak_process_rss_mb": round(usage.ru_maxrss / 1024),  # Linux reports KB
        "peak_tree_rss_mb": round(peak_tree[0] / 2**20),
        "peak_tree_anon_mb": round(peak_anon[0] / 2**20),
        "summary": output.strip().splitlines()[-1] if output.strip() else "",
    }


def fit_at(sizes: list[int], values: list[float], target: int) -> float:
    slope, intercept = np.polyfit(np.asarray(sizes, float), np.asarray(values, float), 1)
    return round(float(intercept + slope * target), 1)


def main(argv: list[str] | None = None) -> int:
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="25000,50000,100000", help="Comma-separated corpus sizes (documents)")
    parser.add_argument("--num_workers", type=int, default=2, help="build_pairs --num_workers")
    parser.add_argument("--dupe_factor", type=int, default=1, help="build_pairs --dupe_factor")
    parser.add_argument("--work_dir", type=Path, default=Path("/tmp/linkbert-bench-build-pairs"))
    parser.add_argument("--output", type=Path, help="write the numbers here as JSON")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    rng = np.random.default_rng(0)
    words = make_vocab(rng)
    save_tokenizer(args.work_dir / "tok", words)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    runs = []
    for size in sizes:
        corpus = args.work_dir / f"corpus-{size}.jsonl"
        if not corpus.exists():
            write_corpus(corpus, size, words, seed=size)
        build = flags(
            corpus=corpus,
            tokenizer=args.work_dir / "tok",
            output_dir=args.work_dir / f"pairs-{size}",
            max_seq_length=512,
            seed=1,
            num_shards=16,
            dupe_factor=args.dupe_factor,
            num_workers=args.num_workers,
            overwrite_output_dir=True,
        )
        result = run_measured([sys.executable, str(ROOT / "src" / "pretrain" / "build_pairs.py"), *build], env)
        manifest = json.loads((args.work_dir / f"pairs-{size}" / "manifest.json").read_text())
        result.update(
            documents=size,
            corpus_mb=round(corpus.stat().st_size / 2**20),
            links=manifest["corpus_stats"]["links"],
            tokens=manifest["num_tokens"],
            pairs=manifest["num_pairs"],
            pair_fractions=manifest["pair_fractions"],
            seconds_per_million_documents=round(result["seconds"] * 1e6 / size),
        )
        runs.append(result)
        print(json.dumps(result), flush=True)
    report = {
        "command": ["bench/build_pairs_memory.py", *(argv if argv is not None else sys.argv[1:])],
        "machine": f"{os.cpu_count()} CPU cores",
        "num_workers": args.num_workers,
        "dupe_factor": args.dupe_factor,
        "runs": runs,
        "extrapolated_1m_documents": {
            "peak_process_rss_mb": fit_at(sizes, [r["peak_process_rss_mb"] for r in runs], 1_000_000),
            "peak_tree_rss_mb": fit_at(sizes, [r["peak_tree_rss_mb"] for r in runs], 1_000_000),
            "peak_tree_anon_mb": fit_at(sizes, [r["peak_tree_anon_mb"] for r in runs], 1_000_000),
            "seconds": fit_at(sizes, [r["seconds"] for r in runs], 1_000_000),
        },
    }
    print(json.dumps(report["extrapolated_1m_documents"]))
    if args.output:
        args.output.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(r["exit_status"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
