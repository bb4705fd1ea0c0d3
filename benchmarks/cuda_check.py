"""Equivalence of gatedrnn layers with torch.nn on a CUDA device (cuDNN), with variable lengths.

    python benchmarks/cuda_check.py     # prints the largest differences; exits 1 above 1e-4
"""

import sys

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import gatedrnn


def main() -> int:
    if not torch.cuda.is_available():
        print("no CUDA device")
        return 0
    device = "cuda"
    # TF32 would round both sides' matmuls to 10-bit mantissas (differences ~1e-3); compare in
    # true float32.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    worst = 0.0
    for mode in ("RNN", "LSTM", "GRU"):
        for impl in ("fused", "scan"):
            torch.manual_seed(0)
            ref = getattr(nn, mode)(5, 7, num_layers=2, bidirectional=True).to(device)
            ours = getattr(gatedrnn, mode)(5, 7, num_layers=2, bidirectional=True).to(device)
            ours.load_state_dict(ref.state_dict())
            lengths = torch.randint(1, 41, (24,))
            lengths[0] = 40
            x = torch.randn(40, 24, 5, device=device)
            xr, xo = x.clone().requires_grad_(), x.clone().requires_grad_()
            out_ref, h_ref = ref(pack_padded_sequence(xr, lengths, enforce_sorted=False))
            out_ref, _ = pad_packed_sequence(out_ref, total_length=40)
            out, h = ours(xo, lengths=lengths, impl=impl)
            h_ref = h_ref[0] if isinstance(h_ref, tuple) else h_ref
            h = h[0] if isinstance(h, tuple) else h
            (out_ref.sum() + h_ref.sum()).backward()
            (out.sum() + h.sum()).backward()
            diffs = [(out - out_ref).abs().max().item(), (h - h_ref).abs().max().item(),
                     (xo.grad - xr.grad).abs().max().item()]
            diffs += [(a.grad - b.grad).abs().max().item()
                      for a, b in zip(ours.parameters(), ref.parameters())]
            worst = max(worst, max(diffs))
            print(f"{mode:5s} {impl:6s} max |diff| output {diffs[0]:.1e} h_n {diffs[1]:.1e} "
                  f"grads {max(diffs[2:]):.1e}")
    print(f"worst {worst:.1e} on {torch.cuda.get_device_name(0)}")
    return 0 if worst < 1e-4 else 1


if __name__ == "__main__":
    sys.exit(main())
