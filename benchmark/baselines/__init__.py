"""Classic baselines fitted without a pretrained model: the floor every backbone must clear.

tfidf.py: TF-IDF of jieba words and character n-grams with a linear SVM, stored without pickle.
"""
