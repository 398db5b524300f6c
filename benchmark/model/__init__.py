"""The model: where a backbone's weights come from, how they are loaded, and the classifier built on them.

checkpoint.py finds and loads any published checkpoint layout completely (or refuses it); sources.py writes
the checkpoints the harness generates itself (smoke preset, from-scratch models, distillation students);
classifier.py is the one way a classifier is built, saved and loaded again.
"""
