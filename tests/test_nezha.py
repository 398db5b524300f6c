"""NeZha: attention against the paper's formulas, padding invariance, saving and reloading.

The published checkpoint layouts it loads from are tested with every other backbone's in test_layouts.py.
"""

from __future__ import annotations

import math

import pytest
import torch
from transformers import BertConfig, BertModel

from benchmark.registry import get_backbone
from models._nezha_modeling import NezhaConfig, NezhaModel

TINY = dict(
    vocab_size=60,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=32,
    max_position_embeddings=64,
    hidden_dropout_prob=0.0,
    attention_probs_dropout_prob=0.0,
)


def tiny_nezha(seed: int = 0, **overrides) -> NezhaModel:
    torch.manual_seed(seed)
    # A wide init makes every term, relative positions included, visibly move the outputs.
    config = NezhaConfig(**{**TINY, "max_relative_position": 3, "initializer_range": 0.3, **overrides})
    return NezhaModel(config).eval()


def sample_inputs(seed: int = 1):
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(1, TINY["vocab_size"], (2, 11), generator=generator)
    attention_mask = torch.ones_like(input_ids)
    attention_mask[1, 8:] = 0
    token_type_ids = torch.zeros_like(input_ids)
    token_type_ids[:, 6:] = 1
    return dict(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)


def outputs(model, **inputs):
    with torch.no_grad():
        return model(**inputs)


def assert_same_outputs(a, b, inputs):
    out_a, out_b = outputs(a, **inputs), outputs(b, **inputs)
    torch.testing.assert_close(out_a.last_hidden_state, out_b.last_hidden_state, rtol=0, atol=1e-6)
    torch.testing.assert_close(out_a.pooler_output, out_b.pooler_output, rtol=0, atol=1e-6)


# --- the architecture ---------------------------------------------------------------------------------------


def test_relative_table_is_the_sinusoid_of_the_shifted_distance():
    model = tiny_nezha()
    table = model.encoder.relative_positions.table
    head_size = TINY["hidden_size"] // TINY["num_attention_heads"]
    assert table.shape == (2 * 3 + 1, head_size)
    for row in range(table.shape[0]):
        for k in range(head_size // 2):
            angle = row / 10000 ** (2 * k / head_size)
            assert table[row, 2 * k].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert table[row, 2 * k + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert not table.requires_grad
    assert not any("relative" in key for key in model.state_dict()), "the table must not be saved"


def test_self_attention_matches_the_papers_formulas():
    max_rel, length = 3, 10  # length > 2 * max_rel + 1, so clipping matters
    model = tiny_nezha(hidden_size=8, num_attention_heads=2, max_relative_position=max_rel)
    attention = model.encoder.layer[1].attention.self
    captured = {}

    def hook(module, args, output):
        captured["x"], captured["z"] = args[0], output[0]

    input_ids = torch.randint(1, TINY["vocab_size"], (2, length), generator=torch.Generator().manual_seed(3))
    attention_mask = torch.ones_like(input_ids)
    attention_mask[0, 7:] = 0  # right padding
    attention_mask[1, [0, 4, 5]] = 0  # arbitrary holes
    handle = attention.register_forward_hook(hook)
    outputs(model, input_ids=input_ids, attention_mask=attention_mask)
    handle.remove()

    x = captured["x"].detach().double()
    table = model.encoder.relative_positions.table.double()
    heads, size = 2, 4

    def project(linear, b, j):
        return x[b, j] @ linear.weight.detach().double().T + linear.bias.detach().double()

    expected = torch.zeros_like(x)
    for b in range(2):
        q = [project(attention.query, b, j) for j in range(length)]
        k = [project(attention.key, b, j) for j in range(length)]
        v = [project(attention.value, b, j) for j in range(length)]
        visible = [j for j in range(length) if attention_mask[b, j]]
        for h in range(heads):
            cols = slice(h * size, (h + 1) * size)
            for i in range(length):
                # a^K_ij = a^V_ij: the table row of the clipped distance j - i.
                rel = {j: table[max(-max_rel, min(max_rel, j - i)) + max_rel] for j in visible}
                e = {j: float(q[i][cols] @ (k[j][cols] + rel[j])) / math.sqrt(size) for j in visible}
                top = max(e.values())
                denominator = sum(math.exp(e[j] - top) for j in visible)
                for j in visible:
                    alpha = math.exp(e[j] - top) / denominator
                    expected[b, i, cols] += alpha * (v[j][cols] + rel[j])

    torch.testing.assert_close(captured["z"].double(), expected, rtol=0, atol=1e-5)


def padding_discrepancy(model, side: str, pad: int = 4) -> float:
    """Largest change at the real tokens when `pad` masked pad tokens are added on one side."""
    input_ids = torch.randint(1, 60, (1, 9), generator=torch.Generator().manual_seed(5))
    plain = outputs(model, input_ids=input_ids, attention_mask=torch.ones_like(input_ids)).last_hidden_state
    pads, ones = torch.zeros(1, pad, dtype=torch.long), torch.ones_like(input_ids)
    if side == "right":
        padded_ids, mask, real = torch.cat([input_ids, pads], 1), torch.cat([ones, pads], 1), slice(0, 9)
    else:
        padded_ids, mask = torch.cat([pads, input_ids], 1), torch.cat([pads, ones], 1)
        real = slice(pad, pad + 9)
    padded = outputs(model, input_ids=padded_ids, attention_mask=mask).last_hidden_state
    return (padded[:, real] - plain).abs().max().item()


@pytest.mark.parametrize("side", ["right", "left"])
def test_real_tokens_do_not_see_padding(side):
    assert padding_discrepancy(tiny_nezha(), side) < 1e-5


def test_left_padding_check_catches_absolute_positions():
    # The control: BERT's absolute positions shift under left padding, so the same check must fail for it.
    torch.manual_seed(0)
    bert = BertModel(BertConfig(**TINY, initializer_range=0.3)).eval()
    assert padding_discrepancy(bert, "left") > 1e-2


def test_forward_shapes_and_bert_style_arguments():
    model = tiny_nezha()
    inputs = sample_inputs()
    out = outputs(model, **inputs, position_ids=None, return_dict=True, output_hidden_states=True)
    assert out.last_hidden_state.shape == (2, 11, TINY["hidden_size"])
    assert out.pooler_output.shape == (2, TINY["hidden_size"])
    assert len(out.hidden_states) == TINY["num_hidden_layers"] + 1


# --- loading ------------------------------------------------------------------------------------------------


def test_save_and_reload(tmp_path):
    model = tiny_nezha()
    model.save_pretrained(tmp_path)
    loaded, info = NezhaModel.from_pretrained(tmp_path, output_loading_info=True)
    assert not info["missing_keys"] and not info["unexpected_keys"]
    assert_same_outputs(model, loaded, sample_inputs())


def test_registered():
    backbone = get_backbone("nezha")
    assert backbone.model_class is NezhaModel
    assert backbone.config_class is NezhaConfig
    assert backbone.architecture == "nezha"
    assert "BERT" in backbone.note
