"""Every registered backbone loads through the hub-id code path and trains a step with the common head."""

from __future__ import annotations

import pytest
import torch
from conftest import load_backbone, save_in_hub_cache

from benchmark.data.encode import PaddingCollator, encode_split
from benchmark.errors import HarnessError
from benchmark.loading.classifier import TextClassifier
from benchmark.registry import get_backbone, list_backbones

BACKBONES = [b.name for b in list_backbones(kind="pretrained")]  # the others need no download


def test_registry_holds_the_mission_backbones():
    assert {"bert", "ernie", "roberta_wwm", "macbert", "mengzi", "nezha"} <= set(BACKBONES)
    # RoBERTa-wwm and MacBERT are BERT models with BERT's tokenizer, as their authors publish them.
    for name in ("roberta_wwm", "macbert", "mengzi", "bert"):
        backbone = get_backbone(name)
        assert backbone.architecture == "bert"
        assert backbone.model_class.__name__ == "BertModel"
        assert backbone.tokenizer_class.__name__ in ("BertTokenizer", "BertTokenizerFast")
    assert get_backbone("ernie").architecture == "ernie"
    assert get_backbone("nezha").architecture == "nezha"


def test_unknown_backbone_suggests_close_names():
    with pytest.raises(HarnessError, match=r"unknown backbone 'macbertt'.*Did you mean: macbert"):
        get_backbone("macbertt")


@pytest.mark.parametrize("name", BACKBONES)
def test_loads_by_hub_id_and_trains_a_step(name, tmp_path):
    backbone = get_backbone(name)
    cache = save_in_hub_cache(backbone, tmp_path)
    encoder, tokenizer = load_backbone(backbone, backbone.hub_id, cache_dir=str(cache), offline=True)
    assert isinstance(encoder, backbone.model_class)

    torch.manual_seed(0)
    model = TextClassifier(encoder, num_labels=3, pooling=backbone.pooling)
    dataset = encode_split(
        tokenizer,
        ["央行宣布降准", "国足两球取胜", "楼市成交上涨"],
        torch.tensor([0, 1, 2]).numpy(),
        max_length=16,
        cache_dir=None,
    )
    batch = PaddingCollator(tokenizer.pad_token_id)([dataset[i] for i in range(3)])
    if tokenizer.unk_token_id is not None:  # a byte-level vocabulary has no unknown token
        assert batch["input_ids"].ne(tokenizer.unk_token_id).sum() > 6, "the tokenizer should know these characters"

    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    output = model(**batch)
    assert output["logits"].shape == (3, 3)
    output["loss"].backward()
    optimizer.step()
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, before[k])]
    assert any(k.startswith("encoder.") for k in changed) and "head.weight" in changed


def test_missing_encoder_weights_stop_the_load(tmp_path):
    backbone = get_backbone("bert")
    cache = save_in_hub_cache(backbone, tmp_path)
    snapshot = next((cache).glob("models--*/snapshots/*"))
    from safetensors.torch import load_file, save_file

    weights = load_file(snapshot / "model.safetensors")
    dropped = [k for k in weights if "pooler" in k]
    save_file({k: v for k, v in weights.items() if k not in dropped}, snapshot / "model.safetensors")
    with pytest.raises(HarnessError) as error:
        load_backbone(backbone, backbone.hub_id, cache_dir=str(cache), offline=True)
    message = str(error.value)
    assert str(snapshot) in message and "2 of its" in message and "pooler.dense.bias" in message
    assert "--allow-missing-weights" in message and "\n" not in message
    encoder, _ = load_backbone(backbone, backbone.hub_id, cache_dir=str(cache), offline=True, allow_missing=True)
    assert isinstance(encoder, backbone.model_class)


def test_unreachable_hub_id_is_one_clear_error(tmp_path):
    backbone = get_backbone("macbert")
    with pytest.raises(HarnessError) as error:
        load_backbone(backbone, backbone.hub_id, cache_dir=str(tmp_path), offline=True)
    message = str(error.value)
    assert "hfl/chinese-macbert-base" in message and "--model-path" in message and "HF_HUB_OFFLINE" in message
    assert "\n" not in message


def test_missing_model_folder_is_named(tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(HarnessError, match=f"model folder {missing} does not exist"):
        load_backbone(get_backbone("bert"), missing)
