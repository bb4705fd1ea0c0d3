"""Peak memory of one LSTM forward + backward per implementation (batch 64, input 100, hidden
256), each in a fresh process: torch.nn, the from-scratch path with its hand-written backward,
with autograd recording every step, and with compiled steps.

    python benchmarks/layers_memory.py --steps 1000 [--out results]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, write_results  # noqa: E402

from gatedrnn.runinfo import environment  # noqa: E402

BATCH, INPUT, HIDDEN = 64, 100, 256

MEMORY_CODE = """
import resource, sys, torch, gatedrnn
from gatedrnn.nn import scan
variant, steps = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
x = torch.randn(steps, 64, 100, requires_grad=True)
layer = torch.nn.LSTM(100, 256) if variant == "torch.nn.LSTM" else gatedrnn.LSTM(100, 256)
scan.HAND_WRITTEN_LSTM_BACKWARD = variant != "from scratch, autograd backward"
impl = "compiled" if "compiled" in variant else "scan"
if impl == "compiled":  # compile on a short sequence first: the kernels, not the steps, cost
    out, (h, c) = layer(x[:3], impl=impl)
    (out.sum() + h.sum()).backward()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out, (h, c) = layer(x) if variant == "torch.nn.LSTM" else layer(x, impl=impl)
(out.sum() + h.sum()).backward()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def peak_memory(steps: int) -> dict:
    """Peak RSS above the process baseline of one LSTM forward + backward (batch 64, input 100,
    hidden 256), each variant in a fresh process."""
    rows = {}
    for variant in ("torch.nn.LSTM", "from scratch (hand-written backward)",
                    "from scratch, autograd backward", "from scratch, compiled steps"):
        done = subprocess.run([sys.executable, "-c", MEMORY_CODE, variant, str(steps)],
                              capture_output=True, text=True, check=True)
        rows[variant] = {"peak_mib_above_baseline": float(done.stdout.strip().splitlines()[-1])}
    return {"steps": steps, "batch": BATCH, "input_size": INPUT, "hidden_size": HIDDEN,
            "rows": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--out", default=None,
                        help="directory for layers_memory.json (default results/)")
    args = parser.parse_args(argv)
    memory = peak_memory(args.steps)
    print(markdown_table(["implementation", f"peak MiB above baseline (T = {args.steps})"],
                         [[k, f"{v['peak_mib_above_baseline']:.0f}"]
                          for k, v in memory["rows"].items()]))
    memory["environment"] = environment(seed=0)
    print(f"wrote {write_results('layers_memory', memory, args.out)}")


if __name__ == "__main__":
    main()
