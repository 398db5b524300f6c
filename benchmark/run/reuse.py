"""What the runs of a queue share within one process: a backbone's loaded weights, for its next seed.

Loading a pretrained encoder builds the model (initialising every tensor at random first) and reads its
checkpoint. The seeds of one backbone start from the same encoder weights and differ only in the new head,
which is drawn from the seed: so the first run keeps an untouched copy of its freshly built classifier, and the
next run with the same backbone, source and head settings takes a copy of it and draws the head again from its
own seed, exactly as `create_classifier` would have. One copy is kept at a time, and only when the queue says
that a later run will use it.
"""

from __future__ import annotations

import copy

import torch

from benchmark.backbone import Backbone
from benchmark.loading.checkpoint import LoadOptions
from benchmark.loading.classifier import Classifier, create_classifier

_kept: tuple[tuple, Classifier] | None = None


def load_classifier_once(
    backbone: Backbone,
    num_labels: int,
    source: str,
    dropout: float,
    seed: int,
    options: LoadOptions,
    keep: bool = False,
) -> tuple[Classifier, bool]:
    """The classifier a run starts from, and whether it came from the copy kept by an earlier run.

    keep: a later run of this process will start from the same backbone, so keep an untouched copy for it.
    """
    global _kept
    key = (backbone.name, str(source), num_labels, dropout, options)
    if _kept is not None and _kept[0] == key:
        kept = _kept[1]
        model = copy.deepcopy(kept.model)
        torch.manual_seed(seed)  # as create_classifier does before it makes the head
        model.head.reset_parameters()
        if not keep:
            _kept = None
        return Classifier(model, kept.tokenizer, kept.weights), True
    _kept = None  # another backbone: the copy kept so far will not be used
    classifier = create_classifier(backbone, num_labels, source=source, dropout=dropout, seed=seed, options=options)
    if keep:
        _kept = (key, Classifier(copy.deepcopy(classifier.model), classifier.tokenizer, classifier.weights))
    return classifier, False


def forget() -> None:
    global _kept
    _kept = None
