"""The output layer of a word-level language model, by kind of softmax: training tokens/s of
its forward + backward for one batch of a language-model preset (batch × bptt hidden states,
Zipf-distributed targets). Why the awd preset uses the adaptive softmax.

    python benchmarks/lm_softmax.py [--lm-preset awd] [--repeats 5] [--out results]

benchmarks/lm_pretraining.py --softmax records the same table in its results.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, markdown_table, time_interleaved, write_results  # noqa: E402

from gatedrnn.lm.presets import PRESETS  # noqa: E402
from gatedrnn.nn.softmax import sampled_softmax_loss  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402


def softmax_speed(preset: str, repeats: int = 5) -> dict:
    """Tokens/s of the output layer's training step for ``preset``'s vocabulary and width."""
    chosen = PRESETS[preset]
    vocab, width = chosen.vocab_size, chosen.model["embedding_dim"]
    tokens = chosen.fit["batch_size"] * chosen.bptt
    generator = torch.Generator().manual_seed(0)
    zipf = 1.0 / torch.arange(1, vocab + 1, dtype=torch.float64)
    targets = torch.multinomial(zipf, tokens, replacement=True, generator=generator)
    states = torch.randn(tokens, width, requires_grad=True)
    full = torch.nn.Linear(width, vocab)
    adaptive = torch.nn.AdaptiveLogSoftmaxWithLoss(width, vocab, chosen.model["cutoffs"],
                                                   div_value=4.0)

    def step(loss_fn):
        def run():
            loss_fn().backward()
        return run

    def full_loss(bf16=False):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = full(states)
        return torch.nn.functional.cross_entropy(logits.float(), targets)

    def sampled(k, bf16=False):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            return sampled_softmax_loss(states, full.weight, full.bias, targets, zipf.float(),
                                        k, generator)

    calls = {"full (fp32)": (step(full_loss), None),
             "full (bf16)": (step(lambda: full_loss(True)), None),
             f"adaptive {chosen.model['cutoffs']} (fp32)": (
                 step(lambda: adaptive(states, targets).loss), None),
             "sampled 2048 (fp32)": (step(lambda: sampled(2048)), None),
             "sampled 2048 (bf16)": (step(lambda: sampled(2048, True)), None),
             "sampled 8192 (fp32)": (step(lambda: sampled(8192)), None)}
    timed = time_interleaved(calls, repeats)
    return {"vocabulary": vocab, "hidden": width, "tokens_per_step": tokens,
            "threads": torch.get_num_threads(),
            "kinds": {label: {**t, "tokens_per_s": tokens / t["median_s"]}
                      for label, t in timed.items()}}


def table(result: dict) -> str:
    return markdown_table(["softmax", "tokens/s"], [
        [k, f"{v['tokens_per_s']:,.0f}"] for k, v in result["kinds"].items()])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lm-preset", default="awd", choices=[
        name for name, p in PRESETS.items() if "cutoffs" in p.model])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    result = softmax_speed(args.lm_preset, args.repeats)
    print(table(result))
    path = write_results("lm_softmax", {"environment": environment(seed=0),
                                        "lm_preset": args.lm_preset, **result}, args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
