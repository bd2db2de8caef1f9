"""Figures of a study's tidy results table (see :mod:`.results`), drawn off screen.

Figures are plain ``matplotlib.figure.Figure`` objects rendered by the Agg canvas: no
pyplot, no GUI backend, safe inside Slicer and on servers.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

PANEL_SIZE_INCH = (3.6, 2.8)


def failure_curves(results: pd.DataFrame, max_labels: int = 12) -> Figure:
    """Median Dice across cases against dose, one panel per label, one line per model x reconstruction
    x reference (solid: against the full-dose mask, dashed: against ground truth).

    As Fig. 7 of Tsanda et al. 2024; the labels shown are those with the most rows.
    """
    labels = results.groupby("label").size().sort_values(ascending=False).index[:max_labels].sort_values()
    columns = min(4, len(labels))
    rows = -(-len(labels) // columns)
    figure = Figure(figsize=(PANEL_SIZE_INCH[0] * columns, PANEL_SIZE_INCH[1] * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False, sharey=True).ravel()
    keys = ["model", "reconstruction", "reference"]
    curves = results.groupby(["label", *keys, "dose"])["dice"].median().reset_index()
    for ax, label in zip(axes, labels):
        for (model, reconstruction, reference), curve in curves[curves["label"] == label].groupby(keys):
            name = " / ".join(filter(None, (model, reconstruction))) + f" vs {reference.replace('_', ' ')}"
            ax.plot(100 * curve["dose"], curve["dice"], marker="o", label=name,
                    linestyle="--" if reference == "ground_truth" else "-")
        ax.set_title(_label_title(results, label))
        ax.set_xlabel("dose (% of full dose)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    for ax in axes[len(labels):]:
        ax.set_visible(False)
    axes[0].set_ylabel("median Dice")
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize="small")
    return figure


def dice_vs_effective_radius(results: pd.DataFrame, bins_per_decade: int = 4) -> Figure:
    """Dice per log-spaced bin of effective radius (top) and the number of labels per bin (bottom), as Fig. 5.

    Rows without a reference volume (r_eff = 0: label only in the test map) cannot be placed
    on the log axis and are left out.
    """
    rows = results[results["r_eff_mm"] > 0]
    edges = log_bin_edges(rows["r_eff_mm"], bins_per_decade)
    bins = np.clip(np.digitize(rows["r_eff_mm"], edges) - 1, 0, len(edges) - 2)
    groups = [rows["dice"].to_numpy()[bins == b] for b in range(len(edges) - 1)]
    names = [f"{edges[b]:.0f}-{edges[b + 1]:.0f}" for b in range(len(edges) - 1)]
    figure = Figure(figsize=(max(6.0, 0.7 * len(groups)), 6.0), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1])
    top.boxplot([g if len(g) else [np.nan] for g in groups])
    top.set_ylabel("Dice")
    top.grid(alpha=0.3)
    bottom.bar(np.arange(1, len(groups) + 1), [len(g) for g in groups])
    bottom.set_xticks(np.arange(1, len(groups) + 1), names)
    bottom.set_ylabel("labels")
    bottom.set_xlabel("effective radius (mm), log-spaced bins")
    bottom.tick_params(axis="x", labelrotation=45)
    return figure


def contrast_split(results: pd.DataFrame) -> Figure:
    """Dice per model for contrast-enhanced and non-contrast scans side by side, as Fig. 6."""
    models = sorted(results["model"].unique())
    figure = Figure(figsize=(max(5.0, 1.4 * len(models)), 4.0), layout="constrained")
    ax = figure.subplots()
    for shift, (contrast, colour) in zip((-0.2, 0.2), ((True, "tab:red"), (False, "tab:blue"))):
        dice = [results.loc[(results["model"] == m) & (results["contrast"] == contrast), "dice"] for m in models]
        parts = ax.boxplot([d if len(d) else [np.nan] for d in dice], positions=np.arange(len(models)) + shift,
                           widths=0.35, patch_artist=True)
        for box in parts["boxes"]:
            box.set_facecolor(colour)
        parts["boxes"][0].set_label("contrast" if contrast else "no contrast")
    ax.set_xticks(np.arange(len(models)), models)
    ax.set_ylabel("Dice")
    ax.legend()
    ax.grid(alpha=0.3)
    return figure


def log_bin_edges(values, bins_per_decade: int = 4) -> np.ndarray:
    """Edges 10^(k / bins_per_decade) covering the positive ``values`` (at least one bin)."""
    values = np.asarray(values, dtype=float)
    low = np.floor(np.log10(values.min()) * bins_per_decade)
    high = max(np.ceil(np.log10(values.max()) * bins_per_decade), low + 1)
    return 10.0 ** (np.arange(low, high + 1) / bins_per_decade)


def _label_title(results: pd.DataFrame, label) -> str:
    names = results.loc[results["label"] == label, "name"].dropna()
    name = next((n for n in names if n), "")
    return f"{label} {name}".strip()
