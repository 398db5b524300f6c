"""Is the checkpoint the backbone it is run as? Its config against the declaration's published one.

A course-style ERNIE folder run as `--model bert` loads without a missing tensor and trains ERNIE under BERT's
name; so does a tiny or home-trained BERT. Before anything heavy is read, the checkpoint's shape (vocabulary,
width, depth) is compared with the published config its backbone declares. A checkpoint of another shape runs
only under a name of its own (--name), listed apart and never pooled with the published backbone; one of the
same shape (a BERT further trained on the user's domain) loads under the published name, its source recorded.
"""

from __future__ import annotations

from pathlib import Path

from benchmark.backbone import Backbone
from benchmark.errors import HarnessError

# What tells checkpoints of one architecture apart, as config.json names it, and as a person reads it.
SHAPE = {"num_hidden_layers": "layers", "hidden_size": "hidden", "vocab_size": "vocabulary"}


def shape_of(config) -> dict:
    return {key: getattr(config, key, None) for key in SHAPE}


def describe(shape: dict) -> str:
    return ", ".join(f"{SHAPE[key]} {value:,}" for key, value in shape.items() if value is not None)


def declared_shape(backbone: Backbone) -> dict:
    return {key: backbone.published_config[key] for key in SHAPE if key in backbone.published_config}


def custom_checkpoint(backbone: Backbone, config, folder: Path, name: str | None) -> str | None:
    """None when the checkpoint has its backbone's published shape; with a name of its own (--name), how it
    differs, for its record; else the run stops, naming both shapes and what to do."""
    declared, found = declared_shape(backbone), shape_of(config)
    differs = {key: found[key] for key in declared if found[key] != declared[key]}
    if not differs:
        return None if name is None else f"local checkpoint of {backbone.name}'s shape: {describe(found)}"
    if name is not None:
        return f"local checkpoint: {describe(found)} ({backbone.name} publishes {describe(declared)})"
    from benchmark.registry import list_backbones

    alike = [other.name for other in list_backbones() if other.published_config and declared_shape(other) == found]
    hint = f"it has the shape of {', '.join(alike)}: --model {alike[0]}; or " if alike else ""
    raise HarnessError(
        f"{folder} is not {backbone.name}: its config has {describe({k: found[k] for k in differs})}, where "
        f"{backbone.name}'s published config has {describe({k: declared[k] for k in differs})}; {hint}declare a "
        f"backbone for this checkpoint in models/, or give --name NAME to run it as a {backbone.architecture} "
        f"checkpoint of its own, listed under that name and never pooled with {backbone.name}"
    )
