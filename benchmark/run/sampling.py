"""The order of training batches: texts of similar length together, dealt at random from (seed, epoch) alone."""

from __future__ import annotations

import torch
from transformers import TrainerCallback
from transformers.trainer_pt_utils import LengthGroupedSampler


class SeededLengthGroupedSampler(LengthGroupedSampler):
    """Batches of similar lengths, in a random order drawn from (seed, epoch) alone, not from the global state.

    Every process then draws the same order and takes its own share of the batches, and a resumed run replays
    the interrupted epoch's order exactly; the global state differs between processes (dropout) and, before the
    checkpoint's state is restored, between a resumed run and an uninterrupted one.
    """

    def __init__(self, batch_size: int, lengths: list[int], seed: int):
        super().__init__(batch_size, lengths=lengths)
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int) -> None:  # called by Trainer / Accelerate before each epoch
        self.epoch = epoch

    def __iter__(self):
        self.generator = torch.Generator().manual_seed(self.seed + self.epoch)
        grouped = list(super().__iter__())
        size = self.batch_size
        batches = [grouped[i : i + size] for i in range(0, len(grouped), size)]
        # Trainer's grouping runs each mega-batch from its longest batch to its shortest, so the length of the
        # texts (and whatever goes with it) would cycle with the step; the batches are dealt at random instead.
        # The longest stays first, so that a batch too large for memory fails at once, and a short one last, so
        # that the data loader's cuts still fall between the grouped batches.
        first, rest = batches[:1], batches[1:]
        full = [batch for batch in rest if len(batch) == size]
        short = [batch for batch in rest if len(batch) < size]
        dealt = [full[i] for i in torch.randperm(len(full), generator=self.generator).tolist()]
        return iter([i for batch in first + dealt + short for i in batch])


class SamplerEpoch(TrainerCallback):
    """Tells the training sampler which epoch begins, from the trainer state.

    Trainer and Accelerate pass the epoch on through set_epoch, but when several processes resume in the middle
    of an epoch the batch-skipping wrapper hides the sampler from them, and the sampler would replay epoch 0's
    order instead of the interrupted epoch's.
    """

    def on_epoch_begin(self, args, state, control, train_dataloader=None, **kwargs):
        sampler = train_dataloader
        for _ in range(4):  # DataLoaderShard -> BatchSamplerShard (several processes) -> BatchSampler -> sampler
            sampler = getattr(sampler, "batch_sampler", None) or getattr(sampler, "sampler", None) or sampler
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(int(state.epoch or 0))  # a resumed state's epoch is fractional: 1.33 is in epoch 1
