"""Figures of a study's tidy results table (see :mod:`.results`), drawn off screen.

Figures are plain ``matplotlib.figure.Figure`` objects rendered by the Agg canvas: no
pyplot, no GUI backend, safe inside Slicer and on servers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from LowDoseRobustnessLib.contract import AGREE, DISAGREEMENT_CLASSES

PANEL_SIZE_INCH = (3.6, 2.8)
SLICE_INCH = 2.6
CT_WINDOW_HU = (-160.0, 240.0)
"""Soft-tissue window (level 40, width 400) for the slice figures."""


def failure_curves(results: pd.DataFrame, max_labels: int = 12) -> Figure:
    """Median Dice across cases against dose, one panel per label, one line per model x reconstruction
    x reference (solid: against the full-dose mask, dashed: against ground truth).

    As Fig. 7 of Tsanda et al. 2024; the labels shown are those with the most rows.
    """
    labels = results.groupby("label").size().sort_values(ascending=False).index[:max_labels].sort_values()
    figure, axes = _dose_panels([_label_title(results, label) for label in labels], 4, "median Dice")
    keys = ["model", "reconstruction", "reference"]
    curves = results.groupby(["label", *keys, "dose"])["dice"].median().reset_index()
    for ax, label in zip(axes, labels):
        for (model, reconstruction, reference), curve in curves[curves["label"] == label].groupby(keys):
            name = " / ".join(filter(None, (model, reconstruction))) + f" vs {reference.replace('_', ' ')}"
            ax.plot(100 * curve["dose"], curve["dice"], marker="o", label=name,
                    linestyle="--" if reference == "ground_truth" else "-")
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(fontsize="small")
    return figure


def _dose_panels(titles: list[str], max_columns: int, ylabel: str):
    """A figure with one panel per title: dose (%) on x, a 0..1 quantity on y (shared)."""
    columns = min(max_columns, len(titles))
    rows = -(-len(titles) // columns)
    figure = Figure(figsize=(PANEL_SIZE_INCH[0] * columns, PANEL_SIZE_INCH[1] * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False, sharey=True).ravel()
    for ax, title in zip(axes, titles):
        ax.set_title(title)
        ax.set_xlabel("dose (% of full dose)")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(alpha=0.3)
    for ax in axes[len(titles):]:
        ax.set_visible(False)
    axes[0].set_ylabel(ylabel)
    return figure, axes


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


def attack_rate_curves(spread: pd.DataFrame) -> Figure:
    """Attack rate (share of noise realizations with Dice below the threshold) against dose, one panel per
    model x reconstruction, one line per label; ``spread`` from :func:`.realizations.attack_rate_by_label`."""
    panels = list(spread.groupby(["model", "reconstruction"]).size().index)
    figure, axes = _dose_panels([f"{model} / {reconstruction}" for model, reconstruction in panels], 3, "attack rate")
    for ax, (model, reconstruction) in zip(axes, panels):
        panel = spread[(spread["model"] == model) & (spread["reconstruction"] == reconstruction)]
        for name, curve in panel.groupby("name"):
            curve = curve.sort_values("dose")
            ax.plot(100 * curve["dose"], curve["attack_rate"], marker="o", label=name or "?")
    axes[0].legend(fontsize="small")
    return figure


@dataclass(frozen=True)
class SliceRow:
    """One reconstruction of a case on one axial slice: CT (HU) and masks at full and at a low dose."""

    reconstruction: str
    dose: float
    full_ct: np.ndarray
    low_ct: np.ndarray
    full_labels: np.ndarray
    low_labels: np.ndarray
    disagreement: np.ndarray


@dataclass(frozen=True)
class SlicePanel:
    """The rows of one case and model on axial slice ``z``; ``pixel_mm`` = (row, column) spacing."""

    case: str
    model: str
    z: int
    pixel_mm: tuple[float, float]
    rows: tuple[SliceRow, ...]


def slice_comparison(panel: SlicePanel) -> Figure:
    """Full dose beside the lowest dose of each reconstruction, with masks and disagreement voxels (cf. Fig. 3).

    Columns: the full-dose scan with its mask, the low-dose scan with its mask, and the
    low-dose scan with the voxels where the masks disagree in the colours of
    :data:`.contract.DISAGREEMENT_CLASSES` (agreement not drawn).
    """
    figure = Figure(figsize=(3 * SLICE_INCH, SLICE_INCH * len(panel.rows) + 0.6), layout="constrained")
    axes = figure.subplots(len(panel.rows), 3, squeeze=False)
    aspect = panel.pixel_mm[0] / panel.pixel_mm[1]
    top = max(1, max(int(r.full_labels.max()) for r in panel.rows))
    labels = ListedColormap(np.vstack([[0, 0, 0, 0], _label_colours(top)]))
    classes = ListedColormap([(0, 0, 0, 0) if c.value == AGREE else (*c.colour, 1.0) for c in DISAGREEMENT_CLASSES])
    for row_axes, row in zip(axes, panel.rows):
        overlays = ((row.full_ct, row.full_labels, labels, top, f"{row.reconstruction}: 100% dose"),
                    (row.low_ct, row.low_labels, labels, top, f"{row.reconstruction}: {row.dose:.0%} dose"),
                    (row.low_ct, row.disagreement, classes, len(DISAGREEMENT_CLASSES) - 1, "disagreement"))
        for ax, (ct, overlay, colours, highest, title) in zip(row_axes, overlays):
            ax.imshow(ct, cmap="gray", vmin=CT_WINDOW_HU[0], vmax=CT_WINDOW_HU[1], aspect=aspect,
                      interpolation="nearest")
            ax.imshow(overlay, cmap=colours, vmin=0, vmax=highest, alpha=0.55 if colours is labels else 1.0,
                      aspect=aspect, interpolation="nearest")
            ax.set_title(title, fontsize="small")
            ax.set_axis_off()
    figure.legend(handles=[Patch(color=c.colour, label=c.name) for c in DISAGREEMENT_CLASSES if c.value != AGREE],
                  loc="outside lower center", ncols=3, fontsize="small")
    figure.suptitle(f"{panel.case}, {panel.model}, slice {panel.z}", fontsize="medium")
    return figure


def _label_colours(count: int) -> np.ndarray:
    from matplotlib import colormaps

    return colormaps["tab20"](np.arange(count) % 20)
