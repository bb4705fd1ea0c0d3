"""ONNX export: parity and speed of onnxruntime against PyTorch CPU inference, same inputs.

    python benchmarks/onnx_speed.py --sentiment runs/sentiment --imdb ../shared/data/aclImdb_v1.tar.gz \\
        [--tagger runs/tagger --ud ../shared/data/ud_english_ewt] [--out results]

For each checkpoint: export, the largest |difference| between onnxruntime and PyTorch over the
timed batches, and the median time per call of both on one input and on a batch (64 reviews
sorted by length, as the Predictor batches them; 128 test sentences for the tagger).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, write_results  # noqa: E402

from gatedrnn.data.batching import collate  # noqa: E402
from gatedrnn.data.text import basic_english  # noqa: E402
from gatedrnn.export import check_parity, export_onnx, time_both  # noqa: E402
from gatedrnn.runinfo import environment  # noqa: E402


def sentiment_inputs(predictor, texts: list[str]) -> dict:
    encoded = sorted((predictor.vocab.encode(basic_english(t)) for t in texts), key=len)
    one = collate([encoded[len(encoded) // 2]])
    batch = collate(encoded[:64])
    return {"1 review": (one.tokens, one.lengths), "64 reviews": (batch.tokens, batch.lengths)}


def tagger_inputs(tagger, sentences) -> dict:
    from gatedrnn.tagging import collate_sentences, encode
    data = encode(sentences[:128], tagger.vocab)
    return {"1 sentence": collate_sentences(data, [0], tagger.vocab).inputs(),
            "128 sentences": collate_sentences(data, list(range(len(data))),
                                               tagger.vocab).inputs()}


def measure(checkpoint: str, inputs: dict, work: Path) -> dict:
    info = export_onnx(checkpoint, work / (Path(checkpoint).name + ".onnx"))
    result = {"task": info["task"],
              "max_abs_difference": check_parity(info["path"], info["graph"],
                                                 list(inputs.values()))}
    for name, args in inputs.items():
        times = time_both(info["path"], info["graph"], args)
        result[name] = {**times, "speedup": times["pytorch"] / times["onnxruntime"]}
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentiment", required=True)
    parser.add_argument("--imdb", required=True, help="IMDb archive (test reviews as inputs)")
    parser.add_argument("--tagger", default=None)
    parser.add_argument("--ud", default=None, help="UD English EWT folder (test sentences)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    from gatedrnn.data import imdb, ud
    from gatedrnn.sentiment import Predictor
    from gatedrnn.tagging import Tagger

    work = Path(tempfile.mkdtemp(prefix="onnx_bench_"))
    results = {"environment": environment(seed=0), "torch_threads": torch.get_num_threads()}
    reviews = [r.text for r in imdb.load(args.imdb).test[::97]]
    results["sentiment"] = measure(args.sentiment,
                                   sentiment_inputs(Predictor.load(args.sentiment), reviews), work)
    if args.tagger and args.ud:
        sentences = ud.load(args.ud).test
        results["tagger"] = measure(args.tagger,
                                    tagger_inputs(Tagger.load(args.tagger), sentences), work)
    rows = []
    for model in ("sentiment", "tagger"):
        if model not in results:
            continue
        r = results[model]
        for name, t in r.items():
            if isinstance(t, dict):
                rows.append([model, name, f"{1e3 * t['pytorch']:.2f}",
                             f"{1e3 * t['onnxruntime']:.2f}", f"{t['speedup']:.2f}",
                             f"{r['max_abs_difference']:.1e}"])
    print(markdown_table(["model", "input", "PyTorch (ms)", "onnxruntime (ms)",
                          "PyTorch / onnxruntime", "max |diff|"], rows))
    print(f"wrote {write_results('onnx', results, args.out)}")


if __name__ == "__main__":
    main()
