"""Training batches: grouped by length, dealt in a random order that depends on seed and epoch only; evaluation
batches sorted by length."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from transformers.trainer_pt_utils import get_length_grouped_indices

from benchmark.data.encode import EncodedSplit
from benchmark.run.evaluate import length_order
from benchmark.run.sampling import SeededLengthGroupedSampler

BATCH = 4


@pytest.fixture
def lengths() -> list[int]:
    return np.random.default_rng(0).integers(2, 33, size=4 * 50 * BATCH + 3).tolist()  # 4 mega-batches and a rest


def batches_of(order: list[int]) -> list[list[int]]:
    return [order[i : i + BATCH] for i in range(0, len(order), BATCH)]


def test_the_grouped_batches_are_dealt_in_a_random_order(lengths):
    sampler = SeededLengthGroupedSampler(BATCH, lengths=lengths, seed=3)
    order = list(sampler)
    assert sorted(order) == list(range(len(lengths)))
    batches = batches_of(order)
    # The same batches Trainer's grouping makes from the same draw, each of similar lengths ...
    grouped = batches_of(get_length_grouped_indices(lengths, BATCH, generator=torch.Generator().manual_seed(3)))
    assert sorted(map(sorted, batches)) == sorted(map(sorted, grouped))
    spread = np.mean([np.ptp([lengths[i] for i in batch]) for batch in batches[:-1]])
    assert spread <= 1

    # ... but not from longest to shortest within each mega-batch: lengths no longer cycle with the step.
    def share_falling(order: list[list[int]]) -> float:
        longest = [max(lengths[i] for i in batch) for batch in order[1:-1]]
        return np.mean([b <= a for a, b in zip(longest, longest[1:], strict=False)])

    assert share_falling(grouped) > 0.95  # Trainer's own order: nearly always from longest to shortest
    assert share_falling(batches) < 0.75
    # The longest text comes first, the short batch last.
    assert max(lengths[i] for i in batches[0]) == max(lengths)
    assert len(batches[-1]) == len(lengths) % BATCH


def test_the_order_depends_on_seed_and_epoch_only(lengths):
    sampler = SeededLengthGroupedSampler(BATCH, lengths=lengths, seed=3)
    first = list(sampler)
    torch.manual_seed(99)
    assert list(sampler) == first
    sampler.set_epoch(1)
    assert list(sampler) != first
    assert list(SeededLengthGroupedSampler(BATCH, lengths=lengths, seed=4)) != first


def test_length_order_puts_the_shortest_first_and_keeps_ties_in_file_order():
    split = EncodedSplit(np.arange(10, dtype=np.int32), np.array([0, 3, 4, 7, 8, 10]), np.arange(5))
    assert length_order(split).tolist() == [1, 3, 4, 0, 2]


def test_the_dev_loss_does_not_depend_on_the_order_of_the_dev_set(tmp_path):
    from transformers import BertConfig, BertModel

    from benchmark.config import RunConfig
    from benchmark.loading.classifier import TextClassifier
    from benchmark.run.train import build_trainer, collator_for

    rng = np.random.default_rng(1)
    lengths = rng.integers(2, 20, size=50)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    dev = EncodedSplit(rng.integers(1, 30, size=offsets[-1]).astype(np.int32), offsets, rng.integers(0, 3, size=50))
    torch.manual_seed(0)
    encoder = BertModel(
        BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    )
    config = RunConfig(model="bert", eval_batch_size=8)
    trainer, _ = build_trainer(
        TextClassifier(encoder, 3), dev, dev, collator_for(config, 0), config, str(tmp_path), show_progress=False
    )
    in_file_order = trainer.evaluate(dev)
    by_length = trainer.evaluate(dev.subset(length_order(dev)))
    assert by_length["eval_loss"] == pytest.approx(in_file_order["eval_loss"], rel=1e-5)
    assert by_length["eval_accuracy"] == in_file_order["eval_accuracy"]
