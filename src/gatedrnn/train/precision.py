"""Numeric settings of a training run: bfloat16 autocast where the CPU runs it natively, and
subnormal floats flushed to zero while training."""

from __future__ import annotations

import contextlib
import functools

import torch


@functools.lru_cache(maxsize=None)
def bf16_autocast_available(device: str = "cpu") -> bool:
    """Whether bfloat16 autocast can run on ``device``. A CPU needs native bfloat16 (AVX-512
    BF16 or AMX): without it oneDNN's fused LSTM refuses bfloat16 inputs ("could not create a
    primitive descriptor for the LSTM forward propagation primitive")."""
    if torch.device(device).type != "cpu":
        return True
    return bool(torch.backends.mkldnn.is_available()
                and torch.ops.mkldnn._is_mkldnn_bf16_supported())


def _autocast(bf16: bool, device: str = "cpu"):
    if not bf16 or not bf16_autocast_available(device):
        return contextlib.nullcontext()
    return torch.autocast(device_type=torch.device(device).type, dtype=torch.bfloat16)


@contextlib.contextmanager
def _flush_denormals():
    """Treat subnormal floats as zero while training (restored afterwards).

    Adam's moment estimates for embedding rows whose words are absent from a batch decay by β
    every step and become subnormal within a few hundred steps (β2 = 0.9: after ~830); x86
    arithmetic on subnormals is ~5× slower. At the end of a POS tagger run 20% of its
    embedding's optimizer state was subnormal (no epoch-time change was measurable above the
    machine's noise; a safeguard).
    """
    was_on = _denormals_flushed()
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(was_on)


def _denormals_flushed() -> bool:
    # torch has no getter: a product that is subnormal comes out as zero when flushing is on.
    return (torch.tensor([1e-30]) * torch.tensor([1e-10])).item() == 0.0
