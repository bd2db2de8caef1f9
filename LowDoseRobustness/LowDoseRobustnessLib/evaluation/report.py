"""A self-contained HTML report of a study: summary tables and figures.

``write_report(results, output_dir)`` writes

* ``report.html``: study overview, the Table 2 summary (median +- MAD), median Dice per
  label and dose, the attack rate across noise realizations, per case the slice figures
  of the paper's Fig. 3, and the figures as PNG embedded in the page (base64), so the one
  file can be mailed or archived;
* ``figures/*.png``: the same figures as files;
* ``summary.csv``: the summary table as numbers.
"""
from __future__ import annotations

import base64
import html
import io
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from LowDoseRobustnessLib.contract import DEFAULT_FAILURE_DICE, safe_name
from LowDoseRobustnessLib.evaluation import plots
from LowDoseRobustnessLib.evaluation.realizations import attack_rate_by_label, realization_spread
from LowDoseRobustnessLib.io.atomic import atomic_output, atomic_write_text
from LowDoseRobustnessLib.evaluation.results import informative_rows, summarize, write_table

FIGURE_DPI = 110
SLICE_FIGURES_SHOWN = 24
"""Slice figures embedded in the page (all are written to figures/)."""


def write_report(results: pd.DataFrame, output_dir: str | Path, overwrite: bool = False,
                 failure_dice: float = DEFAULT_FAILURE_DICE, slices=()) -> Path:
    """Write the report of the tidy ``results`` into ``output_dir``; returns the path of report.html.

    ``failure_dice``: the threshold of the attack rate; ``slices``: :class:`.plots.SlicePanel`
    objects drawn as the paper's Fig. 3.
    """
    output_dir = Path(output_dir)
    page = output_dir / "report.html"
    if page.exists() and not overwrite:
        raise FileExistsError(f"{page} exists; pass overwrite=True (CLI: --overwrite) to replace it")
    (output_dir / "figures").mkdir(parents=True, exist_ok=True)
    rows = informative_rows(results)
    summary = summarize(results)
    write_table(summary, output_dir / "summary.csv", overwrite=True)
    sections = [_overview(rows),
                _section("Robustness summary (median ± MAD across cases)",
                         "Per case, metrics are averaged over its labels; then median and median absolute "
                         "deviation across cases (Tsanda et al. 2024, Table 2).",
                         table_2(summary).to_html(index=False, na_rep="")),
                _section("Median Dice per label", "Median across cases.", _dice_per_label(rows))]
    attacks = attack_rate_by_label(realization_spread(results, failure_dice))
    if not attacks.empty:
        sections.append(_section(
            f"Attack rate across noise realizations (Dice against full dose below {failure_dice:g})",
            "Share of the noise realizations, over all cases, whose low-dose mask has Dice below the threshold "
            "against the full-dose mask (Peng et al. 2023's successful attack rate); Dice mean and SD across "
            "realizations (SD averaged over cases; empty for one realization).",
            attacks.to_html(index=False, float_format="{:.3f}".format, na_rep="")))
    for name, title, caption, figure in _figures(rows, attacks):
        sections.append(_section(title, caption, _figure(output_dir, name, title, figure)))
    for number, panel in enumerate(slices):
        name = f"slices_{safe_name(panel.case)}_{safe_name(panel.model)}"
        image = _figure(output_dir, name, f"{panel.case} slices", plots.slice_comparison(panel))
        if number < SLICE_FIGURES_SHOWN:
            sections.append(_section(
                f"{panel.case}: full dose beside the lowest dose ({panel.model})",
                "Axial slice where the masks disagree most; right: the disagreement voxels (missed at low dose red, "
                "added blue, relabelled yellow; cf. Fig. 3).", image))
    atomic_write_text(page, _PAGE.format(body="\n".join(sections)), overwrite=overwrite)
    return page


def _figure(output_dir: Path, name: str, title: str, figure: Figure) -> str:
    """Write ``figures/<name>.png``; the ``<img>`` element embedding it."""
    png = _png(figure)
    with atomic_output(output_dir / "figures" / f"{name}.png", overwrite=True) as temporary:
        temporary.write_bytes(png)
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _figures(rows: pd.DataFrame, attacks: pd.DataFrame):
    """(file name, title, caption, figure) of each figure the data allows (curves need two doses)."""
    if rows["dose"].nunique() >= 2:
        yield ("failure_curves", "Failure curves", "Median Dice across cases against dose (cf. Fig. 7).",
               plots.failure_curves(rows))
    if attacks["dose"].nunique() >= 2:
        yield ("attack_rate", "Attack rate against dose", "Share of noise realizations with Dice against the "
               "full-dose mask below the threshold, per label.", plots.attack_rate_curves(attacks))
    robustness = rows[rows["reference"] == "full_dose"] if (rows["reference"] == "full_dose").any() else rows
    yield ("dice_vs_effective_radius", "Dice by label size",
           "Dice of low- against full-dose masks in log-spaced bins of effective radius r = (3V/4π)^(1/3) of the "
           "reference label (cf. Fig. 5).", plots.dice_vs_effective_radius(robustness))
    if "contrast" in rows and rows["contrast"].nunique(dropna=True) == 2:
        yield ("contrast", "Contrast and no contrast", "Dice per model, split by contrast (cf. Fig. 6).",
               plots.contrast_split(rows))


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=FIGURE_DPI)
    return buffer.getvalue()


def _overview(rows: pd.DataFrame) -> str:
    facts = {"cases": rows["case"].nunique(), "models": ", ".join(map(str, sorted(rows["model"].unique()))),
             "reconstructions": ", ".join(map(str, sorted(rows["reconstruction"].unique()))),
             "doses (% of full dose)": ", ".join(f"{100 * d:g}" for d in sorted(rows["dose"].dropna().unique())),
             "noise realizations per dose": rows["realization"].nunique() if "realization" in rows else 1,
             "labels": rows["label"].nunique(), "compared with": ", ".join(sorted(rows["reference"].unique())),
             "rows": len(rows)}
    items = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(str(v))}</li>" for k, v in facts.items())
    return _section("Study", "", f"<ul>{items}</ul>")


def table_2(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary (:func:`.results.summarize`) with each metric as 'median ± MAD', as the paper's Table 2."""
    table = summary[[c for c in summary.columns if not c.endswith(("_median", "_mad"))]].copy()
    for metric in [c[: -len("_median")] for c in summary.columns if c.endswith("_median")]:
        digits = 3 if metric == "dice" else 2
        table[metric] = [f"{m:.{digits}f} ± {d:.{digits}f}"
                         for m, d in zip(summary[f"{metric}_median"], summary[f"{metric}_mad"])]
    return table


def _dice_per_label(rows: pd.DataFrame) -> str:
    table = rows.pivot_table(index=["label", "name"], columns=["model", "reconstruction", "dose"],
                             values="dice", aggfunc="median", dropna=False)
    return table.dropna(how="all").to_html(float_format="{:.3f}".format, na_rep="")


def _section(title: str, caption: str, content: str) -> str:
    caption = f"<p>{html.escape(caption)}</p>" if caption else ""
    return f"<section><h2>{html.escape(title)}</h2>{caption}{content}</section>"


_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Dose robustness report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; max-width: 1200px; }}
table {{ border-collapse: collapse; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.2em 0.5em; text-align: right; }}
img {{ max-width: 100%; }}
</style></head>
<body><h1>Dose robustness of CT segmentation</h1>
{body}
</body></html>
"""
