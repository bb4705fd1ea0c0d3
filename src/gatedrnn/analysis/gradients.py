"""Gradient flow through time: how much of the loss gradient reaches each input step."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn


def input_gradient_norms(model: nn.Module, x: Tensor, y: Tensor) -> np.ndarray:
    """‖∂L/∂x_t‖ for every step t of ``x`` (B, T, features), averaged over the batch.

    L is the cross-entropy of ``model(x)`` against the classes ``y``.
    """
    x = x.clone().requires_grad_()
    loss = F.cross_entropy(model(x), y)
    (grad,) = torch.autograd.grad(loss, x)
    return grad.norm(dim=2).mean(0).detach().cpu().numpy()


def decay_per_step(norms: np.ndarray) -> float:
    """The factor by which the gradient shrinks per step of distance from the loss, fitted on a
    log scale over all steps (1.0 = no decay)."""
    distance = np.arange(len(norms))[::-1]
    slope = np.polyfit(distance, np.log(np.maximum(norms, np.finfo(float).tiny)), 1)[0]
    return float(np.exp(slope))
