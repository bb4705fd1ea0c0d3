"""The linear baselines a sentiment model must beat, as usually quoted: TF-IDF over words and
bigrams with a linear SVM (all 25,000 training reviews) or a logistic regression (probabilities,
for ensembles). scikit-learn does the work."""

from __future__ import annotations

import time

import torch


def _tfidf():
    from sklearn.feature_extraction.text import TfidfVectorizer
    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)


def tfidf_svm(data) -> dict:
    """TF-IDF uni+bigram + linear SVM fitted on ``data.train``, scored on ``data.test``: its test
    accuracy and wall time."""
    from sklearn.svm import LinearSVC
    started = time.perf_counter()
    vectorizer = _tfidf()
    features = vectorizer.fit_transform([r.text for r in data.train])
    classifier = LinearSVC(C=0.5).fit(features, [r.label for r in data.train])
    predicted = classifier.predict(vectorizer.transform([r.text for r in data.test]))
    accuracy = float((predicted == [r.label for r in data.test]).mean())
    return {"test_accuracy": accuracy, "wall_seconds": time.perf_counter() - started}


def tfidf_logistic(train_reviews, splits: dict) -> dict:
    """TF-IDF uni+bigram + logistic regression fitted on ``train_reviews`` only (its
    probabilities on validation reviews must not come from a model that saw them): its
    (N, 2) probabilities on each of ``splits`` ({name: reviews}) and the wall time."""
    from sklearn.linear_model import LogisticRegression
    started = time.perf_counter()
    vectorizer = _tfidf()
    features = vectorizer.fit_transform([r.text for r in train_reviews])
    logistic = LogisticRegression(C=10.0, max_iter=2000).fit(
        features, [r.label for r in train_reviews])
    probabilities = {name: torch.tensor(logistic.predict_proba(vectorizer.transform(
        [r.text for r in reviews])), dtype=torch.float32) for name, reviews in splits.items()}
    return {"probabilities": probabilities, "wall_seconds": time.perf_counter() - started}
