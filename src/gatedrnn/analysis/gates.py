"""Reading gate activations: which units hold the information a task needs."""

from __future__ import annotations

import numpy as np


def class_separation(final_state: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per unit of ``final_state`` (N, H): variance of the class means / total variance.

    0 = the unit ignores the class, 1 = the unit encodes nothing else.
    """
    total = final_state.var(axis=0) + 1e-12
    classes = np.unique(labels)
    means = np.stack([final_state[labels == k].mean(axis=0) for k in classes])
    counts = np.array([(labels == k).sum() for k in classes])
    between = (counts[:, None] * (means - final_state.mean(axis=0)) ** 2).sum(0) / len(labels)
    return between / total
