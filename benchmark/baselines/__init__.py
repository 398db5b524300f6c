"""Classifiers fitted outside Trainer, in seconds: the floor every backbone must clear, and the linear probe.

tfidf.py: TF-IDF of jieba words and character n-grams with a linear SVM, stored without pickle.
probe.py: a frozen encoder's pooled vectors (cached) and a logistic regression on them (--linear-probe).
"""
