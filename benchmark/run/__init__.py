"""A run: the pipeline from data to results folder, training with Trainer, the device, evaluation, resuming.

pipeline.py reads top to bottom as one run does; train.py configures Trainer (with sampling.py's batch order);
device.py decides what differs between a GPU and a CPU; evaluate.py predicts in file order; folder.py and
resume.py own the run folder; distill.py turns a run into a distillation run; baseline.py runs a
scikit-learn baseline to the same results files.
"""
