"""TF-IDF of jieba words and character n-grams, and a multinomial logistic regression (scikit-learn): the same
features as tfidf, another linear classifier. This file is the whole of it."""

from benchmark.backbone import Backbone
from benchmark.registry import register
from benchmark.space import log


def logistic_regression(c: float):
    from sklearn.linear_model import LogisticRegression

    # lbfgs on the softmax loss, deterministic for given data; 1,000 iterations let the weakest regularisation
    # of the grid converge on a split of 10,000 headlines.
    return LogisticRegression(C=c, max_iter=1000)


register(
    Backbone(
        name="tfidf_lr",
        description="TF-IDF of jieba words and character n-grams, multinomial logistic regression (scikit-learn)",
        kind="sklearn",
        family="baseline",
        modes=("finetune",),
        estimator=logistic_regression,
        # Unit-length TF-IDF rows need weaker regularisation than an SVM's: C from 1 to 100.
        grid=(1.0, 10.0, 100.0),
        search_space={"regularization": log(0.1, 1000.0)},
        note="A second classic baseline beside tfidf: the same features, a probabilistic linear classifier whose "
        "logits need almost no calibration.",
    )
)
