"""Figures: labelled axes with units, one idea per figure, PNG at a readable size."""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

COLOURS = {"RNN": "#d62728", "LSTM": "#1f77b4", "GRU": "#2ca02c"}


def save(fig, path) -> str:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return str(path)


def gradient_flow(curves: dict, path) -> str:
    """curves: {T: {label: (mean norms over t, std)}} → one panel per T, log-scale norms.

    A label's first word picks the colour (RNN, LSTM, GRU); a label with an init in it is dashed.
    """
    lengths = sorted(curves)
    fig, axes = plt.subplots(1, len(lengths), figsize=(5.5 * len(lengths), 4), squeeze=False)
    for ax, length in zip(axes[0], lengths):
        for label, (mean, std) in curves[length].items():
            t = np.arange(len(mean))
            colour = COLOURS.get(label.split()[0])
            style = "-" if " " not in label else ("--" if "chrono" in label else ":")
            ax.semilogy(t, mean, label=label, color=colour, linestyle=style)
            ax.fill_between(t, np.maximum(mean - std, mean * 1e-3), mean + std, alpha=0.15,
                            color=colour)
        ax.set_title(f"Gradient reaching each input step, T = {length}")
        ax.set_xlabel("time step t of the input")
        ax.set_ylabel("‖∂L/∂x_t‖ (log scale)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    return save(fig, path)


def accuracy_vs_length(series: dict, chance: float, path, title: str) -> str:
    """series: {panel title: {mode: (lengths, means, stds)}}."""
    fig, axes = plt.subplots(1, len(series), figsize=(5.5 * len(series), 4), squeeze=False)
    for ax, (panel, by_mode) in zip(axes[0], series.items()):
        for mode, (lengths, means, stds) in by_mode.items():
            ax.errorbar(lengths, np.array(means) * 100, yerr=np.array(stds) * 100, marker="o",
                        capsize=3, label=mode, color=COLOURS.get(mode))
        ax.axhline(chance * 100, color="grey", linestyle="--", label="chance")
        ax.set_xscale("log")
        lengths = sorted({t for ts, _, _ in by_mode.values() for t in ts})
        ax.set_xticks(lengths, [str(t) for t in lengths])
        ax.minorticks_off()
        ax.set_ylim(0, 102)
        ax.set_xlabel("sequence length T (steps between the cue and the answer, log scale)")
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(textwrap.fill(panel, 60), fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(loc="best")
    fig.suptitle(title)
    return save(fig, path)


def convergence(curves: dict, path, smooth: int = 10) -> str:
    """curves: {T: {mode: (loss_mean_per_step, accuracy_mean_per_step)}}."""
    lengths = sorted(curves)
    fig, axes = plt.subplots(2, len(lengths), figsize=(5 * len(lengths), 7), squeeze=False)
    for col, length in enumerate(lengths):
        for mode, (loss, accuracy) in curves[length].items():
            steps = np.arange(1, len(loss) + 1)
            axes[0][col].plot(steps, _smooth(loss, smooth), label=mode, color=COLOURS.get(mode))
            axes[1][col].plot(steps, _smooth(np.array(accuracy) * 100, smooth), label=mode,
                              color=COLOURS.get(mode))
        axes[0][col].set_title(f"T = {length}")
        axes[0][col].set_ylabel("training loss (cross-entropy, nats)")
        axes[1][col].set_ylabel("training batch accuracy (%)")
        for row in range(2):
            axes[row][col].set_xlabel("training step")
            axes[row][col].grid(True, alpha=0.3)
            axes[row][col].legend()
    fig.suptitle(f"Convergence on first-token recall (mean over seeds, moving average of {smooth})")
    return save(fig, path)


def _smooth(values, window: int):
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    head = np.cumsum(values[: window - 1]) / np.arange(1, window)
    return np.concatenate([head, np.convolve(values, kernel, mode="valid")])


def gate_heatmaps(gates: dict, path, title: str, units: int = 32) -> str:
    """gates: {gate name: array (T, H)} for one sequence → one heatmap per gate (units × time)."""
    names = list(gates)
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 2.2 * len(names) + 0.6), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        values = np.asarray(gates[name])[:, :units].T
        image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=0, vmax=1,
                          interpolation="nearest")
        ax.set_ylabel(f"{name}\nunit")
        label = "(tanh(state) + 1) / 2" if name in ("c", "h") else "activation (0–1)"
        fig.colorbar(image, ax=ax, pad=0.01, label=label)
    axes[-1, 0].set_xlabel("time step t (the class is shown at t = 0)")
    fig.suptitle(textwrap.fill(title, 90), fontsize=10)
    return save(fig, path)


def grouped_bars(groups: dict, path, ylabel: str, title: str, chance: float | None = None,
                 ylim: tuple[float, float] | None = None) -> str:
    """groups: {group label: {bar label: (mean, std)}}."""
    labels = list(groups)
    bars = sorted({b for g in groups.values() for b in g})
    width = 0.8 / max(1, len(bars))
    # The legend sits to the right of the axes, where it cannot cover a bar.
    fig, ax = plt.subplots(figsize=(min(18, max(5, 2.5 * len(labels))) + 3, 4))
    x = np.arange(len(labels))
    for i, bar in enumerate(bars):
        means = [groups[g].get(bar, (np.nan, 0))[0] for g in labels]
        stds = [groups[g].get(bar, (np.nan, 0))[1] for g in labels]
        ax.bar(x + i * width - 0.4 + width / 2, means, width, label=bar,
               **({"yerr": stds, "capsize": 3} if any(stds) else {}))  # one seed: no bars
    if chance is not None:
        ax.axhline(chance, color="grey", linestyle="--", label="chance")
    ax.set_xticks(x, labels, rotation=45 if len(labels) > 8 else 0)
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel)
    ax.set_title(textwrap.fill(title, 70))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=9)
    return save(fig, path)


def reliability_diagram(panels: dict, path, title: str = "Reliability diagram") -> str:
    """panels: {name: calibration.report(...)} → accuracy against confidence per bin, one panel
    each, with the diagonal of perfect calibration and the share of examples per bin below."""
    fig, axes = plt.subplots(2, len(panels), figsize=(4.8 * len(panels), 6.2), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 1]}, sharex=True)
    for column, (name, report) in enumerate(panels.items()):
        top, bottom = axes[0][column], axes[1][column]
        bins = report["reliability"]
        width = bins[0]["high"] - bins[0]["low"] if bins else 1 / 15
        centres = [b["low"] + width / 2 for b in bins]
        top.bar(centres, [b["accuracy"] for b in bins], width=width * 0.9, color="#1f77b4",
                edgecolor="white", label="accuracy in the bin")
        top.plot([b["confidence"] for b in bins], [b["confidence"] for b in bins], "o",
                 color="#d62728", markersize=4, label="mean confidence in the bin")
        top.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
        top.set_xlim(0, 1)
        top.set_ylim(0, 1)
        top.set_ylabel("accuracy (fraction correct)")
        top.set_title(f"{name}\nECE {100 * report['ece']:.2f}%, Brier {report['brier']:.4f}",
                      fontsize=10)
        top.grid(True, alpha=0.3)
        top.legend(loc="upper left", fontsize=8)
        total = sum(b["count"] for b in bins) or 1
        bottom.bar(centres, [100 * b["count"] / total for b in bins], width=width * 0.9,
                   color="#7f7f7f")
        bottom.set_yscale("log")
        bottom.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        bottom.yaxis.set_minor_formatter(NullFormatter())
        bottom.set_xlabel("confidence of the predicted class (probability)")
        bottom.set_ylabel("examples (%)")
        bottom.grid(True, alpha=0.3)
    fig.suptitle(title)
    return save(fig, path)


def confusion_matrix(matrix: dict, path, title: str = "Confusion matrix") -> str:
    """matrix: {"labels", "rows_true_cols_predicted"} → each true class's row as shares of its
    examples (colour), with the counts written in the cells."""
    labels = matrix["labels"]
    counts = np.array(matrix["rows_true_cols_predicted"], dtype=float)
    shares = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    size = min(12.0, 2.5 + 0.6 * len(labels))
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if len(labels) <= 30:  # beyond that the numbers would not fit their cells
        for row in range(len(labels)):
            for column in range(len(labels)):
                ax.text(column, row, f"{int(counts[row, column])}", ha="center", va="center",
                        fontsize=8, color="white" if shares[row, column] > 0.5 else "black")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class's examples")
    ax.set_title(title)
    return save(fig, path)
