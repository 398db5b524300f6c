"""Loading: from a backbone declaration (models/) to a classifier ready to train or serve.

hub.py and checkpoint.py find and load any published checkpoint layout completely (or refuse it); tokenizer.py
applies the vocabulary as the backbone declares; sources.py writes the checkpoints the harness generates
itself (smoke preset, from-scratch models, distillation students); classifier.py is the one way a classifier is
built, saved and loaded again; adapters.py adds LoRA.
"""
