"""A fair, reproducible fine-tuning benchmark for Chinese text-classification backbones."""

__version__ = "0.1.0"
