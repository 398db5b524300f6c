"""Measurements of the harness itself: speed against the reference course's pipeline, and the distillation study.

Each is a command (`python -m benchmark.perf.speed`, `python -m benchmark.perf.distill_demo`) that prints the
figures it measured; nothing here is used by a run.
"""
