"""bench/lengths.py (sampling from length histograms) and bench/cost_model.py (tokens and FLOPs per
setting), checked on small hand-made cases."""

import json

import numpy as np
import pytest
from helpers import REPO, load_module

lengths = load_module(REPO / "bench" / "lengths.py", "lengths", register=True)
cost_model = load_module(REPO / "bench" / "cost_model.py", "cost_model", register=True)
Setting = cost_model.Setting


# ----- lengths.py


def stats_file(tmp_path, **changes):
    """A statistics file with two jobs: `short` (all lengths in [8, 16) or [16, 32), 3:1) and `long`
    (one bin [0, 1000000) whose recorded maximum is 700, truncated to 512)."""
    short = {"kind": "tokcls", "n": 40, "max_seq_length": 64, "batch": 4, "max": 31}
    short.update(hist_edges=[0, 8, 16, 32, 1000000], hist=[0, 30, 10, 0])
    long = {"kind": "seqcls", "n": 5, "max_seq_length": 512, "batch": 2, "max": 700}
    long.update(hist_edges=[0, 1000000], hist=[5])
    datasets = {"short": short, "long": long}
    for key, value in changes.items():
        job, field = key.split("__")
        datasets[job][field] = value
    path = tmp_path / "length-stats.json"
    path.write_text(json.dumps({"about": "test", "datasets": datasets}))
    return path


def test_jobs_and_their_family(tmp_path):
    path = stats_file(tmp_path)
    assert lengths.job_names(path) == ["short", "long"]
    short = lengths.job("short", path)
    assert (short["max_seq_length"], short["batch"], short["family"]) == (64, 4, "NER")
    assert lengths.job("long", path)["family"] == "sequence classification"


def test_samples_follow_the_histogram_and_are_truncated(tmp_path):
    path = stats_file(tmp_path)
    drawn = lengths.sample_lengths("short", 20000, seed=1, path=path)
    assert drawn.min() >= 8 and drawn.max() <= 31
    assert np.mean(drawn < 16) == pytest.approx(0.75, abs=0.015)  # 30 of 40 counts in [8, 16)
    # uniform inside each bin: [8, 16) has mean 11.5 and [16, 32) mean 23.5
    assert drawn[drawn < 16].mean() == pytest.approx(11.5, abs=0.1)
    assert drawn[drawn >= 16].mean() == pytest.approx(23.5, abs=0.3)
    long = lengths.sample_lengths("long", 20000, seed=1, path=path)
    # uniform on [3, 700], cut to 512: P(cut) = 188 / 698
    assert long.max() == 512 and np.mean(long == 512) == pytest.approx(188 / 698, abs=0.015)


def test_the_same_seed_draws_the_same_lengths(tmp_path):
    path = stats_file(tmp_path)
    first = lengths.sample_lengths("short", 50, seed=3, path=path)
    assert np.array_equal(first, lengths.sample_lengths("short", 50, seed=3, path=path))
    assert not np.array_equal(first, lengths.sample_lengths("short", 50, seed=4, path=path))


def test_a_missing_file_and_bad_fields_are_clear_errors(tmp_path):
    with pytest.raises(lengths.LengthStatsError, match="nowhere.json: length statistics not found"):
        lengths.load_stats(tmp_path / "nowhere.json")
    with pytest.raises(lengths.LengthStatsError, match=r"datasets\.short\.hist_edges: expected 5 increasing edges"):
        lengths.load_stats(stats_file(tmp_path, short__hist_edges=[0, 8, 16]))
    with pytest.raises(lengths.LengthStatsError, match=r"datasets\.long: missing field\(s\) batch"):
        broken = json.loads(stats_file(tmp_path).read_text())
        del broken["datasets"]["long"]["batch"]
        (tmp_path / "broken.json").write_text(json.dumps(broken))
        lengths.load_stats(tmp_path / "broken.json")
    with pytest.raises(lengths.LengthStatsError, match="no job 'nope'"):
        lengths.job("nope", stats_file(tmp_path))


# ----- cost_model.py: one batch of real lengths 3 and 5, max_seq_length 8


BATCH = np.array([3, 5])


@pytest.mark.parametrize(
    "setting,expected",
    [
        (Setting("max"), (2 * 8, 2 * 8 * 8)),
        (Setting("dynamic"), (2 * 5, 2 * 5 * 5)),
        (Setting("dynamic", multiple=4), (2 * 8, 2 * 8 * 8)),  # 5 rounds up to 8
        (Setting("packed"), (3 + 5, 3 * 3 + 5 * 5)),
        (Setting("packed", attention="repad"), (8, 2 * 5 * 5)),  # attention on the [2, 5] padded copy
        # 8 real tokens + at least one filler row, rounded up to 12: a filler input of 4 rows
        (Setting("packed", bucket=4), (12, 9 + 25 + 4 * 4)),
        (Setting("packed", bucket=4, attention="repad"), (12, 2 * 8 * 8)),  # bucketed inputs are [2, 8]
    ],
    ids=["max", "dynamic", "dynamic-8", "packed", "packed-repad", "bucket", "bucket-repad"],
)
def test_one_batch_by_hand(setting, expected):
    assert cost_model.batch_work(BATCH, 8, setting) == expected


def test_bert_base_flops_per_token_and_per_attention_pair():
    base = cost_model.SHAPES["base"]
    # per layer 4 x 768^2 (Q, K, V, output) + 2 x 768 x 3072 (feed-forward) = 7,077,888 weights, 2 FLOPs each
    assert base.linear_flops_per_token() == 2 * 12 * 7_077_888
    # per layer QK^T and AV: 2 x 768 multiply-adds per (query, key) pair
    assert base.attention_flops_per_square() == 12 * 4 * 768


def test_an_epoch_sums_its_batches_and_counts_training_three_times():
    shape = cost_model.ModelShape(layers=1, hidden=2, intermediate=4)  # 2 x (16 + 16) = 64 FLOPs per token
    epoch = np.array([3, 5, 4])  # batches [3, 5] and [4] under batch size 2
    cost = cost_model.epoch_cost(epoch, 2, 8, Setting("dynamic"), shape)
    tokens, squares = 2 * 5 + 1 * 4, 2 * 25 + 16
    assert cost["tokens"] == tokens and cost["real_tokens"] == 12
    assert cost["linear_flops"] == 3 * tokens * 64
    assert cost["attention_flops"] == 3 * squares * 8  # 4 x hidden per pair
    forward = cost_model.epoch_cost(epoch, 2, 8, Setting("dynamic"), shape, passes=1)
    assert forward["flops"] * 3 == cost["flops"]


def test_original_and_default_settings_per_family():
    assert cost_model.original_setting("sequence classification") == Setting("max")
    assert cost_model.original_setting("extractive QA") == Setting("max")
    assert cost_model.original_setting("NER") == Setting("dynamic", multiple=8)
    assert cost_model.original_setting("multiple choice") == Setting("dynamic", multiple=8)
    assert cost_model.default_setting("extractive QA") == Setting("max")
    for family in ("sequence classification", "NER", "multiple choice"):
        assert cost_model.default_setting(family) == Setting("packed")
