"""Endless, resumable per-rank streams of pretraining instances, and the loader that prefetches them.

Pretraining runs for a number of steps, not epochs, so each rank draws instances epoch after epoch,
each epoch in a new order fixed by (seed, epoch). The stream's position (epoch, instances consumed
in that epoch) is saved with every checkpoint; a resumed run skips exactly that far and sees the
same instances an uninterrupted run would have.

- `MappedStream` (default): every record batch of every shard memory-mapped on its own (`ShardRows`);
  every epoch a numpy permutation seeded by (seed, epoch), rank r taking positions r, r + world, ...
  (the tail that does not divide evenly is dropped, as DistributedSampler(drop_last=True) does). A
  micro-batch gathers only its own rows from the record batches that hold them: concatenating the
  shards into one table and calling `take` on it would copy every column of the whole dataset for
  each micro-batch (measured: 31 / 117 / 549 ms at 50k / 200k / 800k pairs,
  bench/pretrain_loader_speed.py).
- `StreamingStream` (--streaming): `datasets` streaming over the shards, split between ranks with
  `split_dataset_by_node` (whole shards per rank when the shard count is a multiple of the world
  size), shuffled through a buffer; nothing is loaded up front, so the corpus can be larger than a
  machine's disk cache or memory.

`BatchLoader` runs the stream and the collator in torch DataLoader worker processes, so the next
micro-batches are read, padded and masked while the model trains on this one. Worker w of k builds
micro-batches w, w + k, ... (the DataLoader hands them out in that round-robin order), each one's
masks drawn from a generator seeded by (seed, rank, stream position), so the batches are the same
whatever the number of workers. Each micro-batch carries the stream position after it; the loader
reports the position of the last micro-batch handed to the training step, not of those prefetched,
and that is what a checkpoint saves.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import torch

from linkbert.errors import DataError, UsageError

COLUMNS = ("input_ids", "token_type_ids", "pair_label")
SCHEMA = pa.schema(
    [("input_ids", pa.list_(pa.int32())), ("token_type_ids", pa.list_(pa.int8())), ("pair_label", pa.int8())]
)


class ShardRows:
    """Random access to the rows of Arrow IPC shards, each record batch memory-mapped as it is on
    disk (no concatenation), so that gathering rows copies only those rows."""

    def __init__(self, paths: Sequence[str]):
        self.paths = [str(path) for path in paths]
        self._open()

    def _open(self) -> None:
        self.batches: list[pa.RecordBatch] = []
        for path in self.paths:
            try:
                reader = pa.ipc.open_file(pa.memory_map(path, "r"))
            except pa.ArrowInvalid as err:
                raise DataError(path, f"not a readable Arrow IPC shard ({err}); rerun build_pairs") from None
            missing = [name for name in COLUMNS if name not in reader.schema.names]
            if missing:
                raise DataError(path, f"shard has no column {missing[0]!r}; expected columns {list(COLUMNS)}")
            for index in range(reader.num_record_batches):
                self.batches.append(reader.get_batch(index).select(list(COLUMNS)))
        self.starts = np.concatenate([[0], np.cumsum([batch.num_rows for batch in self.batches], dtype=np.int64)])

    def __len__(self) -> int:
        return int(self.starts[-1])

    # DataLoader workers started with "spawn" receive a copy: the paths travel, the maps are reopened.
    def __getstate__(self) -> dict:
        return {"paths": self.paths}

    def __setstate__(self, state: dict) -> None:
        self.paths = state["paths"]
        self._open()

    def take(self, indices: np.ndarray) -> pa.Table:
        """The rows at `indices` (dataset-wide row numbers), in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        owner = np.searchsorted(self.starts, indices, side="right") - 1
        grouped = np.argsort(owner, kind="stable")
        owners, firsts = np.unique(owner[grouped], return_index=True)
        pieces = [
            self.batches[batch].take(pa.array(indices[part] - self.starts[batch]))
            for batch, part in zip(owners.tolist(), np.split(grouped, firsts[1:]), strict=True)
        ]
        table = pa.Table.from_batches(pieces, schema=self.batches[0].schema) if pieces else SCHEMA.empty_table()
        restore = np.empty_like(grouped)
        restore[grouped] = np.arange(len(grouped))  # requested row i is row restore[i] of `table`
        return table.take(pa.array(restore))


class MappedStream:
    """This rank's endless sequence of instances over memory-mapped shards (the default)."""

    def __init__(self, paths: Sequence[str], *, rank: int, world_size: int, seed: int):
        self.rows = ShardRows(paths)
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.per_rank = len(self.rows) // world_size
        if self.per_rank == 0:
            raise UsageError(f"{len(self.rows)} instances cannot be spread over {world_size} processes")
        self.epoch, self.position = 0, 0
        self._order_epoch, self._order = -1, np.zeros(0, dtype=np.int64)

    def _epoch_order(self) -> np.ndarray:
        """This rank's share of the epoch's permutation, computed once per epoch."""
        if self._order_epoch != self.epoch:
            permutation = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.rows))
            # a compact copy of this rank's share, so that the full permutation is freed (at 100M
            # pairs it is 800 MB, in each worker process)
            compact = np.int32 if len(self.rows) < 2**31 else np.int64
            self._order = permutation[self.rank :: self.world_size][: self.per_rank].astype(compact)
            self._order_epoch = self.epoch
        return self._order

    def take(self, count: int) -> pa.Table:
        """The next `count` instances, moving on to the next epoch when this one runs out."""
        picked, needed = [], count
        while needed:
            if self.position == self.per_rank:
                self.epoch, self.position = self.epoch + 1, 0
            stop = min(self.per_rank, self.position + needed)
            picked.append(self._epoch_order()[self.position : stop])
            needed -= stop - self.position
            self.position = stop
        return self.rows.take(np.concatenate(picked))

    def skip(self, count: int) -> None:
        """Move on `count` instances without reading them."""
        self.epoch, self.position = divmod(self.epoch * self.per_rank + self.position + count, self.per_rank)

    def state(self) -> dict:
        epoch, position = divmod(self.epoch * self.per_rank + self.position, self.per_rank)
        return {"epoch": epoch, "position": position}

    def restore(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])

    def epochs_done(self) -> float:
        return self.epoch + self.position / self.per_rank

    def __getstate__(self) -> dict:
        return dict(self.__dict__, _order_epoch=-1, _order=np.zeros(0, dtype=np.int64))


class StreamingStream:
    """This rank's endless sequence of instances read in order with `datasets` streaming (--streaming)."""

    def __init__(
        self, paths: Sequence[str], *, rank: int, world_size: int, seed: int, buffer_size: int, total_rows: int
    ):
        from datasets import load_dataset
        from datasets.distributed import split_dataset_by_node

        dataset = load_dataset("arrow", data_files=list(paths), split="train", streaming=True).select_columns(
            list(COLUMNS)
        )
        dataset = split_dataset_by_node(dataset, rank=rank, world_size=world_size)
        self.dataset = dataset.shuffle(seed=seed, buffer_size=buffer_size)
        self.rank, self.seed = rank, seed
        self.per_rank = max(1, total_rows // world_size)  # only for the epoch count in the log
        self.epoch, self.position = 0, 0
        self._iterator = self._start(skip=0)

    def _start(self, skip: int) -> Iterator[dict]:
        self.dataset.set_epoch(self.epoch)  # a new shard order and buffer seed every epoch
        return itertools.islice(iter(self.dataset), skip, None)

    def take(self, count: int) -> pa.Table:
        picked: list[dict] = []
        while len(picked) < count:
            item = next(self._iterator, None)
            if item is None:
                if self.position == 0:
                    raise UsageError("the streamed dataset yields no instances for this process")
                self.epoch, self.position = self.epoch + 1, 0
                self._iterator = self._start(skip=0)
                continue
            picked.append(item)
            self.position += 1
        return pa.Table.from_pylist(picked, schema=SCHEMA)

    def skip(self, count: int) -> None:
        if count:
            self.take(count)

    def state(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def restore(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._iterator = self._start(skip=self.position)

    def epochs_done(self) -> float:
        return self.epoch + self.position / self.per_rank

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k != "_iterator"}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._iterator = self._start(skip=self.position)


# ---------------------------------------------------------------- prefetching loader


def mask_seed(seed: int, rank: int, state: dict) -> int:
    """The seed of one micro-batch's masks: a function of where the micro-batch starts in the stream,
    so that it does not depend on which worker builds it or on how many batches came before a resume."""
    return int(np.random.SeedSequence([seed, rank, state["epoch"], state["position"]]).generate_state(1, np.uint64)[0])


class MicroBatches(torch.utils.data.IterableDataset):
    """Collated micro-batches from the stream's current position on, each with the stream position
    after it under "stream_state". In DataLoader worker w of k: micro-batches w, w + k, ..."""

    def __init__(self, stream, collator, batch_size: int, seed: int, rank: int):
        self.stream, self.collator, self.batch_size = stream, collator, batch_size
        self.seed, self.rank = seed, rank

    def __iter__(self) -> Iterator[dict]:
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        stream = self.stream  # a worker's own copy; the main process's stream when there are no workers
        stream.skip(worker * self.batch_size)
        while True:
            generator = torch.Generator().manual_seed(mask_seed(self.seed, self.rank, stream.state()))
            batch = self.collator(stream.take(self.batch_size), generator)
            batch["stream_state"] = stream.state()
            yield batch
            stream.skip((workers - 1) * self.batch_size)


def default_workers(device: torch.device) -> int:
    """Two workers on CUDA, where the host is otherwise idle during the step; none on CPU, where a
    worker competes with the training step for the same cores (on 2 shared cores no gain measured:
    bench/results/cpu-2core-pretrain-loader.json, "prefetch")."""
    return 2 if device.type == "cuda" else 0


class BatchLoader:
    """Micro-batches for the training step, prefetched by `num_workers` processes, and the stream
    position of the last micro-batch handed out (saved in checkpoints)."""

    def __init__(
        self, stream, collator, *, batch_size: int, seed: int, rank: int, num_workers: int, pin_memory: bool = False
    ):
        if isinstance(stream, StreamingStream) and num_workers > 1:
            num_workers = 1  # a stream read in order: more workers would each read all of it
        self.stream, self.num_workers, self.pin_memory = stream, num_workers, pin_memory
        self.dataset = MicroBatches(stream, collator, batch_size, seed, rank)
        self.consumed = stream.state()
        self._iterator = None

    def next_batch(self) -> dict:
        if self._iterator is None:
            loader = torch.utils.data.DataLoader(
                self.dataset,
                batch_size=None,
                num_workers=self.num_workers,
                pin_memory=self.pin_memory,
                # its own generator: creating the iterator must not draw from the global torch RNG,
                # whose state (dropout) is saved in checkpoints
                generator=torch.Generator().manual_seed(0),
            )
            self._iterator = iter(loader)
        batch = next(self._iterator)
        self.consumed = batch.pop("stream_state")
        return batch

    def state(self) -> dict:
        return dict(self.consumed)

    def restore(self, state: dict) -> None:
        self.close()
        self.stream.restore(state)
        self.consumed = self.stream.state()

    def epochs_done(self) -> float:
        return self.consumed["epoch"] + self.consumed["position"] / self.stream.per_rank

    def close(self) -> None:
        """Stop the worker processes (they would otherwise prefetch forever)."""
        self._iterator = None
