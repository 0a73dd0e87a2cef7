"""The pretraining loader: rows gathered from memory-mapped shards without copying the dataset,
per-rank epoch orders, vectorised padding, prefetching workers that give the same batches as none,
the position a checkpoint saves, and a meter that never reads the device."""

import numpy as np
import pyarrow as pa
import pytest
import torch

from linkbert.errors import DataError
from linkbert.pretrain.collator import PretrainCollator
from linkbert.pretrain.distributed import Dist
from linkbert.pretrain.meter import Meter
from linkbert.pretrain.shards import SCHEMA
from linkbert.pretrain.stream import BatchLoader, MappedStream, ShardRows

PAD, CLS, SEP, MASK = 0, 1, 2, 3
# counts what the loader allocates; module-level because buffers must not outlive their pool
COUNTING_POOL = pa.proxy_memory_pool(pa.default_memory_pool())
SPECIAL = (PAD, CLS, SEP, MASK)


def rows_of(numbers: np.ndarray, lengths: np.ndarray) -> pa.RecordBatch:
    """Rows in build_pairs' format. Row n: [CLS], then 10 + n repeated (so a gathered row says which
    one it is), [SEP]; token types 0 over the first half, 1 over the rest; pair label n % 3."""
    starts = np.cumsum(lengths) - lengths
    place = np.arange(lengths.sum()) - np.repeat(starts, lengths)
    ids = np.repeat(10 + numbers, lengths).astype(np.int32)
    ids[place == 0], ids[place == np.repeat(lengths - 1, lengths)] = CLS, SEP
    types = (place >= np.repeat(lengths // 2, lengths)).astype(np.int8)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    columns = [
        pa.ListArray.from_arrays(offsets, ids),
        pa.ListArray.from_arrays(offsets, types),
        pa.array(numbers % 3, pa.int8()),
        pa.array([f"d{n}" for n in numbers]),
        pa.array([f"d{n + 1}" for n in numbers]),
        pa.array(np.zeros(len(numbers), np.int32)),
        pa.array(np.ones(len(numbers), np.int32)),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


def write_shards(directory, shard_sizes, rows_per_batch, length=lambda n: 3 + n % 5):
    """Shards in build_pairs' format (Arrow IPC files, several record batches each); row numbers
    run on across shards."""
    paths, number = [], 0
    for index, size in enumerate(shard_sizes):
        path = directory / f"pairs-{index:05d}-of-{len(shard_sizes):05d}.arrow"
        with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, SCHEMA) as writer:
            for start in range(0, size, rows_per_batch):
                numbers = np.arange(number + start, number + min(size, start + rows_per_batch))
                writer.write_batch(rows_of(numbers, length(numbers)))
        paths.append(str(path))
        number += size
    return paths


def numbers_in(table: pa.Table) -> list[int]:
    return [ids[1] - 10 for ids in table.column("input_ids").to_pylist()]


def test_take_gathers_rows_in_the_requested_order_across_shards_and_record_batches(tmp_path):
    rows = ShardRows(write_shards(tmp_path, [7, 0, 12, 5], rows_per_batch=4))
    assert len(rows) == 24
    wanted = [23, 0, 8, 7, 8, 19, 3, 11, 12]  # every shard, batch boundaries (3|4, 6|7 ...), a repeat
    table = rows.take(np.array(wanted))
    assert numbers_in(table) == wanted
    assert table.column_names == ["input_ids", "token_type_ids", "pair_label"]
    assert table.column("pair_label").to_pylist() == [n % 3 for n in wanted]
    assert [len(ids) for ids in table.column("input_ids").to_pylist()] == [3 + n % 5 for n in wanted]


def test_bytes_allocated_per_batch_scale_with_the_batch_not_the_dataset(tmp_path):
    # 40k rows x ~64 tokens: 12.8 MB of token ids and types; a batch of 16 rows needs ~6 kB of them
    paths = write_shards(tmp_path, [20_000, 20_000], rows_per_batch=8192, length=lambda n: 60 + n % 8)
    stream = MappedStream(paths, rank=0, world_size=1, seed=0)
    previous = pa.default_memory_pool()
    pa.set_memory_pool(COUNTING_POOL)
    try:
        sizes = [len(stream.take(16)) for _ in range(5)]  # each batch freed before the pool is switched back
    finally:
        pa.set_memory_pool(previous)
    assert sizes == [16] * 5
    pool = COUNTING_POOL
    # 16 rows x 67 tokens x 5 bytes + offsets and labels, each gathered twice (per record batch,
    # then into request order) and padded to 64-byte buffers: a few tens of kB. Copying the dataset
    # (concatenated shards, then `take`) allocates the full 12.8 MB.
    assert pool.max_memory() < 200_000, pool.max_memory()


def test_unreadable_or_incomplete_shards_are_named(tmp_path):
    (tmp_path / "cut").mkdir()
    good = write_shards(tmp_path / "cut", [5], rows_per_batch=5)[0]
    cut = tmp_path / "cut.arrow"
    cut.write_bytes(open(good, "rb").read()[:100])  # a copy interrupted early
    with pytest.raises(DataError, match=f"^{cut}: not a readable Arrow IPC shard"):
        ShardRows([good, str(cut)])
    other = tmp_path / "other.arrow"
    table = pa.table({"input_ids": pa.array([[1, 2]], pa.list_(pa.int32())), "label": pa.array([0], pa.int8())})
    with pa.OSFile(str(other), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    with pytest.raises(DataError, match=f"^{other}: shard has no column 'token_type_ids'"):
        ShardRows([str(other)])


def test_each_rank_takes_its_own_rows_and_every_epoch_a_new_order(tmp_path):
    paths = write_shards(tmp_path, [9, 8], rows_per_batch=5)  # 17 rows: 8 per rank, 1 left out
    ranks = [MappedStream(paths, rank=r, world_size=2, seed=3) for r in range(2)]
    first = [numbers_in(stream.take(8)) for stream in ranks]
    assert not set(first[0]) & set(first[1]) and len(set(first[0])) == len(set(first[1])) == 8
    assert ranks[0].state() == {"epoch": 1, "position": 0} and ranks[0].epochs_done() == 1.0
    second = numbers_in(ranks[0].take(8))
    assert second != first[0]  # a new order (8! orders: a repeat has probability 2.5e-5)
    assert len(set(second)) == 8 and not set(second) & set(numbers_in(ranks[1].take(8)))
    # an epoch boundary inside a take: the last 3 rows of the second epoch, then 2 of the third
    both = MappedStream(paths, rank=0, world_size=2, seed=3)
    both.skip(13)
    assert both.state() == {"epoch": 1, "position": 5}
    assert (
        numbers_in(both.take(5))
        == second[5:] + numbers_in(MappedStream(paths, rank=0, world_size=2, seed=3).take(18))[16:]
    )


def test_a_restored_stream_continues_where_the_saved_one_was(tmp_path):
    paths = write_shards(tmp_path, [30], rows_per_batch=7)
    straight = MappedStream(paths, rank=1, world_size=3, seed=5)
    straight.take(14)
    saved = straight.state()
    resumed = MappedStream(paths, rank=1, world_size=3, seed=5)
    resumed.restore(saved)
    assert numbers_in(resumed.take(9)) == numbers_in(straight.take(9))


def collator(**kwargs):
    return PretrainCollator(pad_token_id=PAD, mask_token_id=MASK, vocab_size=40, special_ids=SPECIAL, **kwargs)


def test_vectorised_padding_of_a_sliced_multi_chunk_table():
    lengths = np.array([4, 7, 3, 5, 6])
    table = pa.Table.from_batches([rows_of(np.arange(2), lengths[:2]), rows_of(np.arange(2, 5), lengths[2:])]).slice(
        1, 3
    )  # rows 1-3: chunks whose list offsets do not start at 0
    batch = collator(pad_to_multiple_of=4)(table, torch.Generator().manual_seed(0))
    # longest row 7 -> 8 columns; hand-written rows 1 (7 tokens), 2 (3), 3 (5)
    expected_ids = torch.tensor(
        [
            [CLS, 11, 11, 11, 11, 11, SEP, PAD],
            [CLS, 12, SEP, PAD, PAD, PAD, PAD, PAD],
            [CLS, 13, 13, 13, SEP, PAD, PAD, PAD],
        ]
    )
    expected_types = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 0], [0, 1, 1, 0, 0, 0, 0, 0], [0, 0, 1, 1, 1, 0, 0, 0]])
    chosen = batch["labels"] != -100
    original = torch.where(chosen, batch["labels"], batch["input_ids"])
    assert torch.equal(original, expected_ids)
    assert torch.equal(batch["token_type_ids"], expected_types)
    assert torch.equal(batch["attention_mask"], (expected_ids != PAD).long())
    assert torch.equal(batch["drp_labels"], torch.tensor([1, 2, 0]))
    assert not chosen[expected_ids < 4].any()


def loader_batches(paths, workers, count, restore=None):
    stream = MappedStream(paths, rank=0, world_size=1, seed=7)
    loader = BatchLoader(stream, collator(mlm_probability=0.5), batch_size=4, seed=7, rank=0, num_workers=workers)
    if restore is not None:
        loader.restore(restore)
    batches = [loader.next_batch() for _ in range(count)]
    state = loader.state()
    loader.close()
    return batches, state


def assert_same_batches(ours, theirs):
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        assert a.keys() == b.keys()
        for key in a:
            assert torch.equal(a[key], b[key]), key


@pytest.mark.slow
def test_workers_give_the_same_batches_and_the_position_of_those_handed_out(tmp_path):
    paths = write_shards(tmp_path, [11, 10], rows_per_batch=6)  # 21 rows: an epoch ends inside batch 6
    alone, state = loader_batches(paths, workers=0, count=7)
    assert state == {"epoch": 1, "position": 7}  # 28 rows handed out; the workers prefetched more
    prefetched, state_2 = loader_batches(paths, workers=2, count=7)
    assert state_2 == state
    assert_same_batches(prefetched, alone)
    assert any((b["labels"] != -100).any() for b in alone)
    # resuming after 3 micro-batches (12 rows) gives the uninterrupted run's 4th and 5th, masks included
    resumed, _ = loader_batches(paths, workers=2, count=2, restore={"epoch": 0, "position": 12})
    assert_same_batches(resumed, alone[3:5])


class Output:
    def __init__(self, logits, device):
        self.drp_logits = torch.tensor(logits, dtype=torch.float, device=device)
        self.mlm_loss = torch.tensor(2.0, device=device)
        self.drp_loss = torch.tensor(0.5, device=device)


def meter_batch(device):
    return {
        "drp_labels": torch.tensor([0, 2, 2, 1], device=device),
        "attention_mask": torch.tensor([[1, 1, 0], [1, 1, 1], [1, 0, 0], [1, 1, 1]], device=device),
    }


def test_meter_counts_hits_per_pair_type():
    meter = Meter(torch.device("cpu"))
    # predictions 0, 1, 2, 1 against labels 0, 2, 2, 1: contiguous 1/1, random 1/1, linked 1/2
    logits = [[5, 0, 0], [0, 5, 0], [0, 0, 5], [0, 5, 0]]
    meter.add(Output(logits, "cpu"), meter_batch("cpu"))
    meter.add(Output(logits, "cpu"), meter_batch("cpu"))
    result = meter.result(Dist())
    assert result["drp_accuracy_contiguous"] == 1.0 and result["drp_accuracy_random"] == 1.0
    assert result["drp_accuracy_linked"] == 0.5 and result["drp_accuracy"] == 0.75
    assert (result["drp_count_contiguous"], result["drp_count_random"], result["drp_count_linked"]) == (2, 2, 4)
    assert result["mlm_loss"] == 2.0 and result["loss"] == 2.5 and result["mean_length"] == 9 / 4


def test_meter_add_never_reads_the_device():
    # tensors on the meta device hold no values: any host read (.item(), bincount's data-dependent
    # output size) raises, so this passes only if `add` just queues device work
    meter = Meter(torch.device("meta"))
    meter.add(Output([[5, 0, 0]] * 4, "meta"), meter_batch("meta"))
    assert meter.sums.device.type == "meta"
