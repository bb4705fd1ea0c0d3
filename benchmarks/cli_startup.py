"""How fast the command line answers: `gatedrnn --help`, a subcommand's help, --version and an
argument error, each as a fresh process, beside the time to import torch alone.

    python benchmarks/cli_startup.py [--repeats 10] [--baseline-src OLD/src] [--out results]

Each command runs REPEATS times, all commands interleaved round-robin so that a busy spell
of the machine hits each alike; the table gives the median wall time and the median CPU time
(user + system of the child, which another process on the machine disturbs less).
--baseline-src times the same commands with another checkout's package (e.g. a git worktree of
an older commit: `git worktree add /tmp/old COMMIT`), in the same run, and prints the ratios.
Writes results/cli_startup.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import markdown_table, write_results  # noqa: E402

from gatedrnn.runinfo import environment  # noqa: E402

COMMANDS = {
    "gatedrnn --help": ["--help"],
    "gatedrnn sentiment train --help": ["sentiment", "train", "--help"],
    "gatedrnn --version": ["--version"],
    "argument error (--preset nope)": ["sentiment", "train", "--preset", "nope"],
}
# The CLI as its console script runs it, with the package taken from SRC (or the installed one).
LAUNCH = "import sys; sys.argv[0] = 'gatedrnn'; from gatedrnn.cli import main; main()"


def timed(argv: list[str], env: dict) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv`` as a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--baseline-src", default=None,
                        help="Another checkout's src/ folder, timed beside this one.")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)

    variants = {"current": None}
    if args.baseline_src:
        variants["baseline"] = str(Path(args.baseline_src).resolve())
    runs = {"import torch": ([sys.executable, "-c", "import torch"], dict(os.environ))}
    for variant, src in variants.items():
        env = dict(os.environ)
        if src:
            env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
        for label, command in COMMANDS.items():
            runs[f"{label} [{variant}]"] = ([sys.executable, "-c", LAUNCH, *command], env)
    samples = {label: [] for label in runs}
    for label, (command, env) in runs.items():  # warm the file cache once
        timed(command, env)
    for _ in range(args.repeats):
        for label, (command, env) in runs.items():
            samples[label].append(timed(command, env))
    rows = {label: {"median_wall_s": statistics.median(w for w, _ in s),
                    "median_cpu_s": statistics.median(c for _, c in s),
                    "min_wall_s": min(w for w, _ in s), "repeats": len(s)}
            for label, s in samples.items()}
    ratios = {}
    if "baseline" in variants:
        ratios = {label: rows[f"{label} [baseline]"]["median_wall_s"]
                  / rows[f"{label} [current]"]["median_wall_s"] for label in COMMANDS}
    load = os.getloadavg()
    results = {"environment": environment(seed=0), "repeats": args.repeats,
               "load_average_1_5_15_min": load, "baseline_src": args.baseline_src,
               "rows": rows, "speedup_vs_baseline": ratios,
               "target_s": 0.3,
               "met": rows["gatedrnn --help [current]"]["median_wall_s"] <= 0.3}
    path = write_results("cli_startup", results, args.out)
    print(markdown_table(
        ["command", "median wall (s)", "median CPU (s)", "fastest (s)"]
        + (["baseline ÷ current"] if ratios else []),
        [[label, f"{r['median_wall_s']:.3f}", f"{r['median_cpu_s']:.3f}", f"{r['min_wall_s']:.3f}"]
         + ([f"{ratios[label.rsplit(' [', 1)[0]]:.1f}×" if label.endswith("[current]")
             else ""] if ratios else [])
         for label, r in rows.items()]))
    print(f"load average during the run: {load[0]:.2f} (1 min); wrote {path}")


if __name__ == "__main__":
    main()
