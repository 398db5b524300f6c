"""The defaults a machine decides: evaluation batch, workers, padding, precision, threads."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from benchmark.config import RunConfig
from benchmark.run import device, train


def test_device_defaults_on_a_cpu(monkeypatch):
    monkeypatch.setattr(device, "on_gpu", lambda: False)
    config = RunConfig(model="bert")
    assert device.eval_batch_size(config) == device.EVAL_BATCH_CPU and device.num_workers(config) == 0
    given = RunConfig(model="bert", eval_batch_size=256, num_workers=3)
    assert device.eval_batch_size(given) == 256 and device.num_workers(given) == 3
    assert train.collator_for(config, 0).multiple_of is None
    assert train.collator_for(RunConfig(model="bert", pad_to_max_length=True, max_length=32), 0).fixed_length == 32
    with pytest.raises(device.HarnessError, match="fp16 needs a GPU"):
        device.resolve_precision(RunConfig(model="bert", precision="fp16"))
    monkeypatch.setattr(device, "cpu_supports_bf16", lambda: False)
    with pytest.raises(device.HarnessError, match="no bf16 instructions"):
        device.resolve_precision(RunConfig(model="bert", precision="bf16"))
    assert device.resolve_precision(RunConfig(model="bert")) == "fp32"


def test_device_defaults_on_a_gpu(monkeypatch):
    monkeypatch.setattr(device, "on_gpu", lambda: True)
    config = RunConfig(model="bert")
    assert device.eval_batch_size(config) == device.EVAL_BATCH_GPU and device.num_workers(config) == device.WORKERS_GPU
    assert train.collator_for(config, 0).multiple_of == 8


def test_threads_follow_the_cores_granted_and_the_processes_sharing_them(monkeypatch, tmp_path):
    threads = torch.get_num_threads()
    try:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
        monkeypatch.setattr(device.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)
        monkeypatch.setattr(device, "CGROUP_CPU_MAX", str(tmp_path / "absent"))
        assert device.cores_granted() == 8
        quota = tmp_path / "cpu.max"
        monkeypatch.setattr(device, "CGROUP_CPU_MAX", str(quota))
        quota.write_text("max 100000\n")
        assert device.cores_granted() == 8
        quota.write_text("250000 100000\n")  # a container given 2.5 CPUs of the 8
        assert device.cores_granted() == 3
        monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
        assert device.set_cpu_threads() == 1
        monkeypatch.setenv("LOCAL_WORLD_SIZE", "1")
        assert device.set_cpu_threads() == 3
        monkeypatch.setenv("OMP_NUM_THREADS", "2")
        torch.set_num_threads(2)
        assert device.set_cpu_threads() == 2  # an explicit setting is left alone
    finally:
        torch.set_num_threads(threads)


def test_trainer_options_on_a_gpu(monkeypatch, tmp_path):

    for module in (device, train):
        monkeypatch.setattr(module, "on_gpu", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (8, 0))
    options = train.training_options(RunConfig(model="bert"), str(tmp_path))
    assert options["bf16"] and not options["fp16"] and options["tf32"] is True
    assert options["optim"] == "adamw_torch_fused" and not options["use_cpu"]
    assert options["per_device_eval_batch_size"] == device.EVAL_BATCH_GPU
    assert options["dataloader_num_workers"] == device.WORKERS_GPU and options["dataloader_persistent_workers"]
    assert options["dataloader_pin_memory"] and options["accelerator_config"]["non_blocking"]
    assert options["logging_nan_inf_filter"] is False
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    options = train.training_options(RunConfig(model="bert"), str(tmp_path))
    assert options["fp16"] and not options["bf16"]  # Trainer adds the gradient scaler with fp16


def test_trainer_options_on_a_cpu(monkeypatch, tmp_path):

    for module in (device, train):
        monkeypatch.setattr(module, "on_gpu", lambda: False)
    options = train.training_options(RunConfig(model="bert"), str(tmp_path))
    assert not options["bf16"] and not options["fp16"] and options["tf32"] is None
    assert options["per_device_eval_batch_size"] == device.EVAL_BATCH_CPU and options["dataloader_num_workers"] == 0
    assert not options["dataloader_pin_memory"] and not options["dataloader_persistent_workers"]
    monkeypatch.setattr(device, "cpu_supports_bf16", lambda: True)
    options = train.training_options(RunConfig(model="bert", precision="bf16"), str(tmp_path))
    assert options["bf16"] and options["use_cpu"]  # Trainer accepts bf16 without a GPU only on the CPU device


def test_the_optimiser_is_the_fused_adamw_kernel_on_the_cpu(tmp_path):
    from transformers import BertConfig, BertModel

    from benchmark.data.encode import EncodedSplit
    from benchmark.loading.classifier import TextClassifier
    from benchmark.run.train import build_trainer

    encoder = BertModel(
        BertConfig(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    )
    split = EncodedSplit(np.arange(8, dtype=np.int32) % 30, np.array([0, 2, 4, 6, 8]), np.array([0, 1, 0, 1]))
    config = RunConfig(model="bert", batch_size=2, max_steps=1)
    trainer, _ = build_trainer(
        TextClassifier(encoder, 2),
        split,
        split,
        train.collator_for(config, 0),
        config,
        str(tmp_path),
        show_progress=False,
    )
    trainer.create_optimizer()
    assert isinstance(trainer.optimizer, torch.optim.AdamW) and trainer.optimizer.defaults["fused"] is True
