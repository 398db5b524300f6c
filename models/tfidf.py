from benchmark.registry import Backbone, register

register(
    Backbone(
        name="tfidf",
        description="TF-IDF of jieba words and character n-grams, linear SVM (scikit-learn)",
        kind="sklearn",
        family="baseline",
        modes=("finetune",),
        note="A classic baseline, fitted in seconds on a CPU (benchmark/baselines/tfidf.py); it gives the "
        "leaderboard its floor. Training flags such as --learning-rate do not apply; the regularisation strength "
        "is chosen on the dev split.",
    )
)
