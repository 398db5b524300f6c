"""Published config fields shared by several backbones' declarations (facts from each checkpoint's config.json)."""


def bert_config(layers: int, hidden: int, heads: int, intermediate: int, **extra) -> dict:
    """A Chinese BERT-style config: the 21,128-entry vocabulary, 512 positions and 2 segment types of
    bert-base-chinese, which RoBERTa-wwm, MacBERT, LERT, PERT, the RBT and UER series, TinyBERT and bge share."""
    return {
        "model_type": "bert",
        "num_hidden_layers": layers,
        "hidden_size": hidden,
        "num_attention_heads": heads,
        "intermediate_size": intermediate,
        "vocab_size": 21128,
        "max_position_embeddings": 512,
        "type_vocab_size": 2,
        **extra,
    }


BERT_BASE = bert_config(12, 768, 12, 3072)

# Tiny test and smoke shapes for architectures whose published fields must shrink along with the rest.
TINY = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
    "max_position_embeddings": 64,
}
TINY_DECODER = {**TINY, "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 256}
BERT_LARGE = bert_config(24, 1024, 16, 4096)
