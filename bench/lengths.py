"""Token lengths of the paper's real training splits, for the benchmarks and the cost model.

`../shared/reference/length-stats.json` (next to the repository) holds, per recipe job (the 13 BLURB
tasks, MedQA-USMLE, SQuAD), the recipe's max_seq_length and per-device batch and a histogram of
token lengths before truncation. This module reads it and draws lengths from a job's histogram, so
benchmarks run on the lengths the recipes really see instead of a normal distribution:

    from lengths import job_names, job, sample_lengths
    sample_lengths("chemprot_hf", 256, seed=0)   # 256 lengths, truncated to max_seq_length as the tokenizer does

A length is drawn in two steps: a histogram bin with probability proportional to its count, then a
whole number uniformly inside the bin, [edge_i, edge_i+1), where the open last bin ends at the
job's recorded maximum and no length is below 3 ([CLS], one token, [SEP]). Lengths above
max_seq_length are cut to it, as the entry scripts truncate. MedQA has one row per (question,
option) pair and its batch counts rows (4 options per question); SQuAD's long contexts become several
windows of max_seq_length, which a single truncated length only approximates.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
STATS_PATH = REPO.parent / "shared" / "reference" / "length-stats.json"
FAMILY = {"seqcls": "sequence classification", "tokcls": "NER", "mc": "multiple choice", "qa": "extractive QA"}
SHORTEST = 3  # [CLS] token [SEP]
REQUIRED = ("kind", "max_seq_length", "batch", "hist_edges", "hist", "max")


class LengthStatsError(ValueError):
    """The length statistics file is missing or malformed (the message names file and field)."""


def load_stats(path: Path = STATS_PATH) -> dict[str, dict]:
    """The `datasets` mapping of the statistics file, checked field by field."""
    if not path.is_file():
        raise LengthStatsError(
            f"{path}: length statistics not found (expected ../shared/reference/length-stats.json next to the "
            "repository; it holds the real splits' token-length histograms)"
        )
    try:
        datasets = json.loads(path.read_text(encoding="utf-8"))["datasets"]
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise LengthStatsError(f"{path}: expected a JSON object with a 'datasets' mapping ({err})") from None
    for name, stats in datasets.items():
        _check_job(path, name, stats)
    return datasets


def _check_job(path: Path, name: str, stats: dict) -> None:
    missing = [field for field in REQUIRED if field not in stats]
    if missing:
        raise LengthStatsError(f"{path}: datasets.{name}: missing field(s) {', '.join(missing)}")
    if stats["kind"] not in FAMILY:
        raise LengthStatsError(f"{path}: datasets.{name}.kind: {stats['kind']!r} is not one of {', '.join(FAMILY)}")
    edges, counts = stats["hist_edges"], stats["hist"]
    if len(edges) != len(counts) + 1 or any(b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise LengthStatsError(
            f"{path}: datasets.{name}.hist_edges: expected {len(counts) + 1} increasing edges for {len(counts)} bins"
        )
    if any(count < 0 for count in counts) or sum(counts) == 0:
        raise LengthStatsError(f"{path}: datasets.{name}.hist: expected non-negative counts, not all zero")


def job_names(path: Path = STATS_PATH) -> list[str]:
    """The recipe jobs with statistics, in the file's order (BLURB tasks, MedQA, SQuAD)."""
    return list(load_stats(path))


def job(name: str, path: Path = STATS_PATH) -> dict:
    """One job's statistics plus `family` (sequence classification, NER, multiple choice,
    extractive QA), e.g. job("chemprot_hf")["max_seq_length"] == 256."""
    stats = load_stats(path)
    if name not in stats:
        raise LengthStatsError(f"{path}: no job {name!r}; known: {', '.join(stats)}")
    return dict(stats[name], name=name, family=FAMILY[stats[name]["kind"]])


def bins(name: str, path: Path = STATS_PATH) -> list[tuple[int, int, int]]:
    """(count, shortest, longest) of each non-empty bin, lengths whole numbers, before truncation."""
    stats = job(name, path)
    edges = stats["hist_edges"]
    out = []
    for index, count in enumerate(stats["hist"]):
        low = max(edges[index], SHORTEST)
        high = min(edges[index + 1] - 1, max(stats["max"], low))
        if count and high >= low:
            out.append((count, low, high))
    return out


def sample_lengths(name: str, n: int, seed: int, path: Path = STATS_PATH) -> np.ndarray:
    """`n` token lengths drawn from the job's histogram with numpy's generator seeded by `seed`,
    truncated to its max_seq_length (int64)."""
    rng = np.random.default_rng(seed)
    table = bins(name, path)
    counts = np.array([count for count, _, _ in table], dtype=float)
    chosen = rng.choice(len(table), size=n, p=counts / counts.sum())
    low = np.array([table[i][1] for i in chosen])
    high = np.array([table[i][2] for i in chosen])
    lengths = rng.integers(low, high + 1)
    return np.minimum(lengths, job(name, path)["max_seq_length"]).astype(np.int64)
