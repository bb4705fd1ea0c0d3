"""What a result was measured on: versions, CPU, threads, seed. Stored next to every number."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess

import torch


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=5, cwd=os.path.dirname(__file__))
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def environment(seed: int | None = None) -> dict:
    """A dict describing the machine and software a measurement ran on."""
    info = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        # the widest vector unit torch's kernels use here ("AVX2", "AVX512"): machines that
        # report the same model name need not have the same, nor run at the same speed
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "git_commit": git_commit(),
    }
    if seed is not None:
        info["seed"] = seed
    return info


def rss_mb() -> dict:
    """This process's resident memory now and at its peak, in MiB (``now`` is Linux only)."""
    import resource
    import sys
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = {"peak_rss_mb": peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024,
           "rss_mb": None}
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            out["rss_mb"] = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        pass
    return out


def release_free_memory() -> None:
    """Hand the C allocator's free pages back to the system (glibc ``malloc_trim``; elsewhere a
    no-op). Batches of very different sizes leave freed tensor memory scattered through glibc's
    heap, where it still counts as resident."""
    import ctypes
    import ctypes.util
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass
