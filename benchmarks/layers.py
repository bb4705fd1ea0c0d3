"""Forward + backward time of recurrent layers: gatedrnn's paths against torch.nn and a naive LSTM.

    python benchmarks/layers.py [--repeats 5] [--threads N] [--out results]

Two settings (batch 64, input 100, hidden 256, length 200):
  A. one layer, every sequence of length 200;
  B. two bidirectional layers, lengths drawn uniformly from 100..200.
Rows: torch.nn on the padded batch (the reference, ratio 1.0), torch.nn on a PackedSequence
(B only; timed inside this process, alone in a fresh one, and alone in a fresh one whose glibc
allocator keeps large blocks — its speed depends on the allocator's state), gatedrnn's default
path, its from-scratch path (LSTM: with its hand-written
backward, with autograd recording every step instead, and with each step's elementwise
arithmetic compiled by torch.compile, impl="compiled"), and a naive LSTM that applies four
nn.Linear to [h, x] per step as the chapter writes it. Setting B's padded torch.nn row ignores
the lengths (it computes wrong reverse states) and is there as the speed bar.
Implementations are timed round-robin, so a slow spell of the machine hits all of them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, time_interleaved, write_results  # noqa: E402

import gatedrnn  # noqa: E402
from gatedrnn.nn import scan  # noqa: E402
from gatedrnn.nn.naive import NaiveLSTM  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402

BATCH, STEPS, INPUT, HIDDEN = 64, 200, 100, 256


def fwd_bwd(model, make_input, **kwargs):
    def step():
        model.zero_grad(set_to_none=True)
        inp = make_input()
        out, state = model(inp, **kwargs)
        data = out.data if isinstance(out, nn.utils.rnn.PackedSequence) else out
        h = state[0] if isinstance(state, tuple) else state
        (data.sum() + h.sum()).backward()
    return step


def autograd_backward(step):
    """The same from-scratch LSTM with autograd recording every step instead of gatedrnn.nn.bptt's
    hand-written backward (what that backward saves, measured in the same run)."""
    def run():
        scan.HAND_WRITTEN_LSTM_BACKWARD = False
        try:
            step()
        finally:
            scan.HAND_WRITTEN_LSTM_BACKWARD = True
    return run


def run_setting(name, num_layers, bidirectional, lengths, repeats, packed_repeats, mode="LSTM"):
    torch.manual_seed(0)
    kwargs = dict(num_layers=num_layers, bidirectional=bidirectional)
    ref = getattr(nn, mode)(INPUT, HIDDEN, **kwargs)
    ours = getattr(gatedrnn, mode)(INPUT, HIDDEN, **kwargs)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(STEPS, BATCH, INPUT, requires_grad=True)
    calls = {f"torch.nn.{mode}, padded batch": (fwd_bwd(ref, lambda: x), None)}
    if lengths is not None:
        calls[f"torch.nn.{mode}, PackedSequence"] = (
            fwd_bwd(ref, lambda: pack_padded_sequence(x, lengths, enforce_sorted=False)),
            packed_repeats)
    suffix = ", lengths" if lengths is not None else ""
    calls[f"gatedrnn.{mode} default (fused){suffix}"] = (fwd_bwd(ours, lambda: x,
                                                                 lengths=lengths), None)
    calls[f"gatedrnn.{mode} from scratch (scan){suffix}"] = (
        fwd_bwd(ours, lambda: x, lengths=lengths, impl="scan"), None)
    compile_seconds = None
    if mode == "LSTM":
        calls[f"gatedrnn.LSTM from scratch, autograd backward{suffix}"] = (
            autograd_backward(fwd_bwd(ours, lambda: x, lengths=lengths, impl="scan")), None)
        compiled = fwd_bwd(ours, lambda: x, lengths=lengths, impl="compiled")
        started = time.perf_counter()
        compiled()  # the first call compiles the step kernels (inductor caches them on disk)
        compile_seconds = time.perf_counter() - started
        calls[f"gatedrnn.LSTM from scratch, compiled steps (impl='compiled'){suffix}"] = (
            compiled, None)
        naive = NaiveLSTM(INPUT, HIDDEN, num_layers, bidirectional)
        calls["naive per-gate LSTM (4 nn.Linear on [h, x]), padded"] = (fwd_bwd(naive, lambda: x),
                                                                        None)
    if mode == "GRU":
        cho = gatedrnn.GRU(INPUT, HIDDEN, variant="cho", **kwargs)
        calls[f"gatedrnn.GRU variant='cho' (scan){suffix}"] = (
            fwd_bwd(cho, lambda: x, lengths=lengths), None)
    rows = time_interleaved(calls, repeats)
    reference = rows[f"torch.nn.{mode}, padded batch"]["median_s"]
    for row in rows.values():
        row["ratio_to_torch_padded"] = row["median_s"] / reference
    return {"setting": name, "mode": mode, "num_layers": num_layers,
            "bidirectional": bidirectional, "compiled_first_call_s": compile_seconds,
            "lengths": None if lengths is None else {"min": int(lengths.min()),
                                                     "max": int(lengths.max()),
                                                     "distinct": int(lengths.unique().numel())},
            "rows": rows}


# glibc returns large freed blocks to the system and page-faults them back on the next
# allocation until its adaptive mmap threshold has grown; a threshold of 256 MiB from the start
# is what a process that already ran other recurrent work behaves like.
WARM_ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": str(256 << 20),
                  "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}


def packed_in_fresh_process(repeats: int, env: dict | None = None) -> dict:
    """torch.nn's PackedSequence time measured alone in a new Python process.

    In one process, the packed path's time depends on what ran before it (13 s fresh, 4-10 s
    after other recurrent work, measured). That is the allocator: the packed path makes many
    large temporary tensors, and in a fresh process each is page-faulted in anew; with
    ``env=WARM_ALLOCATOR`` the fresh process runs it at the in-process speed (4.2 s against
    13.2 s, measured). All three numbers are reported.
    """
    import json
    import os
    here = str(Path(__file__).resolve().parent)
    code = (f"import json, sys; sys.path.insert(0, {here!r}); import layers; "
            f"print(json.dumps(layers.packed_alone({repeats})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, env={**os.environ, **(env or {})})
    return json.loads(done.stdout.strip().splitlines()[-1])


def packed_alone(repeats: int) -> dict:
    torch.manual_seed(0)
    ref = nn.LSTM(INPUT, HIDDEN, num_layers=2, bidirectional=True)
    x = torch.randn(STEPS, BATCH, INPUT, requires_grad=True)
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(100, STEPS + 1, (BATCH,), generator=generator)
    calls = {"packed": (fwd_bwd(ref, lambda: pack_padded_sequence(x, lengths,
                                                                 enforce_sorted=False)), None),
             "padded": (fwd_bwd(ref, lambda: x), None)}
    return time_interleaved(calls, repeats, warmup=0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--packed-repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default=None, help="directory for layers.json (default results/)")
    parser.add_argument("--memory", type=int, metavar="STEPS", default=None,
                        help="moved: python benchmarks/layers_memory.py --steps STEPS")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.memory:
        import layers_memory
        print("--memory moved to benchmarks/layers_memory.py --steps STEPS; running it",
              file=sys.stderr)
        layers_memory.main(["--steps", str(args.memory)]
                           + (["--out", args.out] if args.out else []))
        return
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(100, STEPS + 1, (BATCH,), generator=generator)
    settings = [
        run_setting("A: 1 layer, length 200", 1, False, None, args.repeats, args.packed_repeats),
        run_setting("B: 2-layer bidirectional, lengths 100-200", 2, True, lengths, args.repeats,
                    args.packed_repeats),
        run_setting("C: GRU, 1 layer, length 200", 1, False, None, args.repeats,
                    args.packed_repeats, mode="GRU"),
    ]
    b_rows = settings[1]["rows"]
    for label, env in (("alone in a fresh process", None),
                       ("fresh process, glibc mmap threshold 256 MiB", WARM_ALLOCATOR)):
        fresh = packed_in_fresh_process(args.packed_repeats, env)
        b_rows[f"torch.nn.LSTM, PackedSequence, {label}"] = {
            **fresh["packed"],
            "ratio_to_torch_padded": fresh["packed"]["median_s"] / fresh["padded"]["median_s"]}
    table_rows = []
    for s in settings:
        for label, r in s["rows"].items():
            table_rows.append([s["setting"], label, f"{r['median_s'] * 1e3:.0f}",
                               f"{r['ratio_to_torch_padded']:.2f}"])
    print(f"forward+backward, batch {BATCH}, input {INPUT}, hidden {HIDDEN}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    print(markdown_table(["setting", "implementation", "ms (median)", "× torch.nn padded"],
                         table_rows))
    payload = {"benchmark": "layers", "batch": BATCH, "steps": STEPS, "input_size": INPUT,
               "hidden_size": HIDDEN, "environment": environment(seed=0), "settings": settings}
    print(f"wrote {write_results('layers', payload, args.out)}")


if __name__ == "__main__":
    main()
