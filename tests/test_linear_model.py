"""The TF-IDF logistic regression as a torch module (models.linear): the same probabilities
as scikit-learn's fit, for two classes and for several."""

import random

import numpy as np
import pytest
import torch

from gatedrnn.models import linear

WORDS = ["good", "bad", "film", "the", "plot", "great", "dull", "a", "very", "not"]


def corpus(n, classes, seed=0):
    rng = random.Random(seed)
    texts = [[rng.choice(WORDS) for _ in range(rng.randint(1, 9))] for _ in range(n)]
    labels = [(len(t) + WORDS.index(t[0])) % classes for t in texts]
    return texts, labels


@pytest.mark.parametrize("classes", [2, 4])
def test_the_module_gives_scikit_learns_probabilities(classes):
    pytest.importorskip("sklearn")
    texts, labels = corpus(200, classes)
    model, vocabulary, vectorizer = linear.fit(texts, labels, classes, max_n=2, C=3.0)
    held_out, _ = corpus(50, classes, seed=1)
    held_out.append(["unseen", "words", "only"])  # no known n-gram: the bias alone
    from sklearn.linear_model import LogisticRegression
    expected = LogisticRegression(C=3.0, max_iter=3000).fit(
        vectorizer.features_, labels).predict_proba(vectorizer.transform(held_out))
    with torch.no_grad():
        logits = model(*vocabulary.batch([vocabulary.encode(t) for t in held_out]))
    np.testing.assert_allclose(torch.softmax(logits, 1).numpy(), expected, atol=1e-5)
    assert logits.shape == (51, classes)


def test_ngram_counts_and_bad_configs():
    assert linear.ngram_counts(["a", "b", "a", "b"], 2) == {"a": 2, "b": 2, "a b": 2, "b a": 1}
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        linear.LinearConfig(vocab_size=3, num_classes=1)
