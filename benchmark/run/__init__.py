"""A run: the one driver from settings to results folder, the methods it runs, and what fine-tuning needs.

driver.py reads top to bottom as every run does, and method.py is the small interface it calls; finetune.py
(Trainer, with LoRA and distillation as options), probe.py, classic.py and export.py are the methods. train.py
configures Trainer (with sampling.py's batch order, checkpoints.py's best weights, writer.py's background
checkpoints, progress.py's progress); device.py decides what differs between a GPU and a CPU; folder.py and
resume.py own the run folder; queue.py runs several in a row.
"""
