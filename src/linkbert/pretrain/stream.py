"""Endless, resumable per-rank streams of pretraining instances.

Pretraining runs for a number of steps, not epochs, so each rank draws instances epoch after epoch,
each epoch in a new order fixed by (seed, epoch). The stream's position (epoch, instances consumed
in that epoch) is saved with every checkpoint; a resumed run skips exactly that far and sees the
same instances an uninterrupted run would have.

- `MappedStream` (default): all shards memory-mapped as one Arrow table; every epoch a numpy
  permutation seeded by (seed, epoch), rank r taking positions r, r + world, ... (the tail that does
  not divide evenly is dropped, as DistributedSampler(drop_last=True) does).
- `StreamingStream` (--streaming): `datasets` streaming over the shards, split between ranks with
  `split_dataset_by_node` (whole shards per rank when the shard count is a multiple of the world
  size), shuffled through a buffer; nothing is loaded up front, so the corpus can be larger than a
  machine's disk cache or memory.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

import numpy as np

from linkbert.errors import UsageError
from linkbert.pretrain.shards import load_table

COLUMNS = ("input_ids", "token_type_ids", "pair_label")


class MappedStream:
    def __init__(self, paths: Sequence[str], *, rank: int, world_size: int, seed: int):
        self.table = load_table(paths, COLUMNS)
        self.rank, self.world_size, self.seed = rank, world_size, seed
        self.per_rank = len(self.table) // world_size
        if self.per_rank == 0:
            raise UsageError(f"{len(self.table)} instances cannot be spread over {world_size} processes")
        self.epoch, self.position = 0, 0
        self._order = self._epoch_order()

    def _epoch_order(self) -> np.ndarray:
        permutation = np.random.default_rng([self.seed, self.epoch]).permutation(len(self.table))
        return permutation[self.rank :: self.world_size][: self.per_rank]

    def take(self, count: int) -> list[dict]:
        """The next `count` instances, moving on to the next epoch when this one runs out."""
        picked = []
        while len(picked) < count:
            if self.position == self.per_rank:
                self.epoch, self.position = self.epoch + 1, 0
                self._order = self._epoch_order()
            stop = min(self.per_rank, self.position + count - len(picked))
            picked.extend(self._order[self.position : stop].tolist())
            self.position = stop
        return self.table.take(picked).to_pylist()

    def state(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def restore(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._order = self._epoch_order()

    def epochs_done(self) -> float:
        return self.epoch + self.position / self.per_rank


class StreamingStream:
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
        self.per_rank = max(1, total_rows // world_size)  # only for the epoch count in the log
        self.epoch, self.position = 0, 0
        self._iterator = self._start(skip=0)

    def _start(self, skip: int) -> Iterator[dict]:
        self.dataset.set_epoch(self.epoch)  # a new shard order and buffer seed every epoch
        return itertools.islice(iter(self.dataset), skip, None)

    def take(self, count: int) -> list[dict]:
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
        return picked

    def state(self) -> dict:
        return {"epoch": self.epoch, "position": self.position}

    def restore(self, state: dict) -> None:
        self.epoch, self.position = int(state["epoch"]), int(state["position"])
        self._iterator = self._start(skip=self.position)

    def epochs_done(self) -> float:
        return self.epoch + self.position / self.per_rank
