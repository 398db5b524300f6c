"""The classic baseline: TF-IDF of jieba words and character n-grams, and a linear SVM.

It is fitted outside Trainer in seconds on a CPU and writes the same results folder as every other run
(docs/results-format.md), so it stands in the same leaderboard as the floor the transformers must clear.

The fitted model is stored without pickle: the terms (in feature order) and the settings as JSON, the idf
weights and the classifier's coefficients as safetensors. The features are computed here, not by a stored
scikit-learn object, so a saved model gives the same numbers with any scikit-learn version. The SVM's
margins are scaled into calibrated logits on the dev split (one number), so the probabilities in
predictions.csv mean something and a tfidf run can be a distillation teacher like any other run. (A logistic
regression scored no better on thucnews-mini and took twenty times longer to fit.) Which linear classifier is
fitted over the features, and the values of its C tried, is the declaration's (models/tfidf.py); any
scikit-learn estimator with `coef_` and `intercept_` is stored and served alike.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
from scipy import sparse

from benchmark.errors import HarnessError
from benchmark.metrics import cross_entropy

FORMAT = "tfidf-linear"
SETTINGS_FILE = "tfidf.json"
ARRAYS_FILE = "tfidf.safetensors"


def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)  # its dictionary-loading chatter would interleave with the run's log
    return jieba


@dataclass
class TfidfSettings:
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (1, 3)
    min_df: int = 2  # terms seen in one training text only are noise for a linear model, and half the vocabulary
    sublinear_tf: bool = True

    def to_dict(self) -> dict:
        return {
            "word_ngrams": list(self.word_ngrams),
            "char_ngrams": list(self.char_ngrams),
            "min_df": self.min_df,
            "sublinear_tf": self.sublinear_tf,
        }

    @classmethod
    def from_dict(cls, data: dict) -> TfidfSettings:
        return cls(
            tuple(data["word_ngrams"]), tuple(data["char_ngrams"]), int(data["min_df"]), bool(data["sublinear_tf"])
        )


def _ngrams(tokens: list[str] | str, low: int, high: int, joiner: str) -> list[str]:
    return [joiner.join(tokens[i : i + n]) for n in range(low, high + 1) for i in range(len(tokens) - n + 1)]


def analyze(text: str, settings: TfidfSettings) -> list[str]:
    """The terms of one text: word n-grams ("w:" + words joined by spaces) and character n-grams ("c:" ...).

    The prefixes keep the word 中 and the character 中 apart; whitespace is dropped from character n-grams.
    """
    text = text.lower()
    words = [word for word in _jieba().lcut(text) if not word.isspace()]
    chars = "".join(text.split())
    return ["w:" + t for t in _ngrams(words, *settings.word_ngrams, " ")] + [
        "c:" + t for t in _ngrams(chars, *settings.char_ngrams, "")
    ]


@dataclass
class TfidfModel:
    """Features (terms, idf) and a linear classifier (coef, intercept) over them."""

    settings: TfidfSettings
    terms: list[str]
    idf: np.ndarray  # (features,)
    coef: np.ndarray  # (classes, features)
    intercept: np.ndarray  # (classes,)
    estimator: str = ""  # the scikit-learn class that fitted coef and intercept (not saved: serving needs neither)
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        self.index = {term: i for i, term in enumerate(self.terms)}

    @property
    def parameters(self) -> int:
        return int(self.coef.size + self.intercept.size)

    def features(self, texts: list[str]) -> sparse.csr_matrix:
        return transform(texts, self.index, self.idf, self.settings)

    def logits(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.features(texts) @ self.coef.T, dtype=np.float64) + self.intercept

    def save(self, folder: Path, backbone: str, labels: list[str]) -> None:
        from safetensors.numpy import save_file

        folder.mkdir(parents=True, exist_ok=True)
        settings = {"format": FORMAT, **self.settings.to_dict(), "jieba": _version("jieba"), "terms": self.terms}
        (folder / SETTINGS_FILE).write_text(json.dumps(settings, ensure_ascii=False), encoding="utf-8")
        save_file({"idf": self.idf, "coef": self.coef, "intercept": self.intercept}, str(folder / ARRAYS_FILE))
        (folder / "labels.json").write_text(
            json.dumps({"backbone": backbone, "labels": labels}, ensure_ascii=False, indent=1), encoding="utf-8"
        )

    @classmethod
    def load(cls, folder: Path) -> tuple[TfidfModel, list[str]]:
        """The model and its label names, from JSON and safetensors only (nothing is unpickled)."""
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        try:
            settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
            labels = json.loads((folder / "labels.json").read_text(encoding="utf-8"))["labels"]
            arrays = load_file(str(folder / ARRAYS_FILE))
        except (OSError, ValueError, KeyError, SafetensorError) as error:
            raise HarnessError(
                f"{folder}: cannot read the saved tfidf model ({error}); expected {SETTINGS_FILE}, "
                f"{ARRAYS_FILE} and labels.json as written by a tfidf run"
            ) from None
        if settings.get("format") != FORMAT:
            raise HarnessError(f"{folder / SETTINGS_FILE}: format {settings.get('format')!r}, expected {FORMAT!r}")
        model = cls(
            TfidfSettings.from_dict(settings), settings["terms"], arrays["idf"], arrays["coef"], arrays["intercept"]
        )
        n = len(model.terms)
        if model.idf.shape != (n,) or model.coef.shape != (len(labels), n) or model.intercept.shape != (len(labels),):
            raise HarnessError(
                f"{folder / ARRAYS_FILE}: array shapes {model.idf.shape}, {model.coef.shape}, "
                f"{model.intercept.shape} do not match {n} terms and {len(labels)} labels"
            )
        return model, labels


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _matrix(
    analysed: list[list[str]], index: dict[str, int], idf: np.ndarray, settings: TfidfSettings
) -> sparse.csr_matrix:
    """Sublinear term frequency times idf, each row scaled to unit length (scikit-learn's TfidfVectorizer)."""
    rows, columns, counts = [], [], []
    for row, terms in enumerate(analysed):
        for term, count in Counter(terms).items():
            column = index.get(term)
            if column is not None:
                rows.append(row)
                columns.append(column)
                counts.append(count)
    tf = np.asarray(counts, dtype=np.float64)
    if settings.sublinear_tf:
        tf = 1.0 + np.log(tf)
    matrix = sparse.csr_matrix(
        (tf * idf[np.asarray(columns, dtype=np.int64)], (rows, columns)),
        shape=(len(analysed), len(idf)),
        dtype=np.float64,
    )
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


def transform(texts: list[str], index: dict[str, int], idf: np.ndarray, settings: TfidfSettings) -> sparse.csr_matrix:
    return _matrix([analyze(text, settings) for text in texts], index, idf, settings)


def fit_vocabulary(analysed: list[list[str]], settings: TfidfSettings) -> tuple[list[str], np.ndarray]:
    """Terms in at least min_df training texts, sorted, and their smoothed idf: ln((1 + n) / (1 + df)) + 1."""
    document_frequency: Counter = Counter()
    for terms in analysed:
        document_frequency.update(set(terms))
    terms = sorted(term for term, df in document_frequency.items() if df >= settings.min_df)
    if not terms:
        raise HarnessError(f"no term appears in {settings.min_df} or more training texts; tfidf needs more data")
    df = np.array([document_frequency[t] for t in terms], dtype=np.float64)
    return terms, np.log((1 + len(analysed)) / (1 + df)) + 1.0


def calibrate(margins: np.ndarray, labels: np.ndarray) -> float:
    """The scale t that makes softmax(t * margins) a calibrated probability: t minimises the dev cross-entropy
    (temperature scaling, Guo et al. 2017). It never changes which label wins."""
    from scipy.optimize import minimize_scalar

    found = minimize_scalar(
        lambda log_t: cross_entropy(margins * np.exp(log_t), labels), bounds=(-5.0, 5.0), method="bounded"
    )
    return float(np.exp(found.x))


def fit_tfidf(
    train_texts: list[str],
    train_labels: np.ndarray,
    dev_texts: list[str],
    dev_labels: np.ndarray,
    num_labels: int,
    *,
    estimator,
    grid: tuple[float, ...],
    settings: TfidfSettings | None = None,
    log=print,
) -> tuple[TfidfModel, list[dict]]:
    """Fit the features on train and a linear classifier per value C of `grid` (`estimator(C)`, a scikit-learn
    estimator with `coef_` and `intercept_`); keep the C with the lowest (calibrated) dev loss.

    The classifier's margins, scaled by the calibration factor fitted on dev, are the model's logits; the factor
    is folded into the stored coefficients.
    """
    settings = settings or TfidfSettings()
    analysed = [analyze(text, settings) for text in train_texts]
    terms, idf = fit_vocabulary(analysed, settings)
    index = {term: i for i, term in enumerate(terms)}
    x_train, x_dev = _matrix(analysed, index, idf, settings), transform(dev_texts, index, idf, settings)
    log(f"tfidf: {len(terms)} terms (word {settings.word_ngrams}-grams, character {settings.char_ngrams}-grams)")
    history, best, name = [], None, ""
    for step, c in enumerate(grid, 1):
        classifier = estimator(c).fit(x_train, train_labels)
        name = type(classifier).__name__
        coef, intercept = _full_coefficients(classifier, num_labels, len(terms))
        margins = np.asarray(x_dev @ coef.T, dtype=np.float64) + intercept
        scale = calibrate(margins, dev_labels)
        point = {
            "step": step,
            "C": c,
            "scale": scale,
            "dev_loss": cross_entropy(margins * scale, dev_labels),
            "dev_accuracy": float((margins.argmax(-1) == dev_labels).mean()),
        }
        history.append(point)
        log(f"{name}: C={c:g}: dev loss {point['dev_loss']:.4f}, dev accuracy {point['dev_accuracy']:.4f}")
        if best is None or point["dev_loss"] < best[0]["dev_loss"]:
            best = (point, coef * np.float32(scale), intercept * np.float32(scale))
    return TfidfModel(settings, terms, idf, best[1], best[2], estimator=name), history


def _full_coefficients(classifier, num_labels: int, num_features: int) -> tuple[np.ndarray, np.ndarray]:
    """One row per label id, also for labels absent from train (a very low margin: never predicted)."""
    coef = np.zeros((num_labels, num_features), dtype=np.float32)
    intercept = np.full(num_labels, -100.0, dtype=np.float32)
    classes = classifier.classes_
    if len(classes) == 2:  # scikit-learn keeps one row for two classes, the margin of the second; split it
        coef[classes[1]], intercept[classes[1]] = classifier.coef_[0] / 2, classifier.intercept_[0] / 2
        coef[classes[0]], intercept[classes[0]] = -classifier.coef_[0] / 2, -classifier.intercept_[0] / 2
    else:
        coef[classes], intercept[classes] = classifier.coef_, classifier.intercept_
    return coef, intercept
