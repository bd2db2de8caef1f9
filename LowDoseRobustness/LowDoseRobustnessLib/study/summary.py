"""The study's tables and report, from every finished comparison of the request.

``results.csv`` / ``results.parquet`` (one row per case x dose x reconstruction x model x
realization x reference x label), ``realizations.csv`` (spread across noise realizations
and attack rate, :mod:`..evaluation.realizations`) form one artifact; ``report.html`` with
``summary.csv`` and ``figures/`` another. Both are keyed by the keys of the comparisons
they gather, so a rerun that changed nothing rewrites neither.
"""
from __future__ import annotations

from typing import Callable

from LowDoseRobustnessLib.contract import REFERENCE_DOSE, StudyLayout
from LowDoseRobustnessLib.study.artifacts import Artifact
from LowDoseRobustnessLib.study.identity import recipe_key

REPORT_FORMAT = 3
"""Raise when the report's content changes, so existing reports are redrawn."""


def write_study_results(layout: StudyLayout, comparisons: list, request, overwrite: bool,
                        log: Callable[[str], None]):
    """Write the tables and the report (when not already finished); returns the results table, None if empty."""
    import pandas as pd

    from LowDoseRobustnessLib.evaluation.realizations import realization_spread
    from LowDoseRobustnessLib.evaluation.results import read_table, write_table

    finished = [t for t in comparisons if t.outputs[0].is_finished()]
    if not finished:
        log("no comparison finished; no results table or report written")
        return None
    recipe = {"kind": "results", "comparisons": sorted(t.outputs[0].key for t in finished),
              "failure_dice": request.failure_dice}
    tables = Artifact(layout.results_csv, recipe_key(recipe), recipe,
                      (layout.results_parquet, layout.realizations_csv))
    if overwrite or not tables.is_finished():
        results = pd.concat([read_table(t.outputs[0].path) for t in finished], ignore_index=True)
        tables.open()
        write_table(results, layout.results_csv, overwrite=True)
        write_table(results, layout.results_parquet, overwrite=True)
        write_table(realization_spread(results, request.failure_dice), layout.realizations_csv, overwrite=True)
        tables.commit()
    results = read_table(layout.results_parquet)
    report_recipe = {"kind": "report", "results": tables.key, "format": REPORT_FORMAT}
    report = Artifact(layout.report_html, recipe_key(report_recipe), report_recipe, (layout.summary_csv,))
    if overwrite or not report.is_finished():
        from LowDoseRobustnessLib.evaluation.report import write_report

        report.open()
        write_report(results, layout.root, overwrite=True, failure_dice=request.failure_dice,
                     slices=list(_slice_panels(layout, finished)))
        report.commit()
    return results


def _slice_panels(layout: StudyLayout, comparisons: list):
    """Per case and model, the paper's Fig. 3: each reconstruction's full-dose and lowest-dose scans and masks
    (realization 0, against the full-dose mask) on the axial slice where the masks disagree most."""
    lowest = {}
    for task in comparisons:
        if task.reference == "full_dose" and task.realization == 0:
            key = (task.case.name, task.model, task.reconstruction)
            if key not in lowest or task.dose < lowest[key].dose:
                lowest[key] = task
    groups = {}
    for key, task in lowest.items():  # in the request's order of cases, reconstructions and models
        groups.setdefault(key[:2], []).append(task)
    for (case, model), tasks in groups.items():
        try:
            yield _slice_panel(layout, case, model, tasks)
        except (OSError, RuntimeError, ValueError):
            continue  # a figure is not worth failing the report for


def _slice_panel(layout: StudyLayout, case: str, model: str, tasks: list):
    import numpy as np

    from LowDoseRobustnessLib.evaluation.plots import SlicePanel, SliceRow
    from LowDoseRobustnessLib.io.volumes import read_volume

    maps = [read_volume(t.outputs[0].companions[0]) for t in tasks]
    disagreeing = sum((m.array != 0).sum(axis=(1, 2)) for m in maps)
    labelled = (read_volume(tasks[0].inputs[0]).array != 0).sum(axis=(1, 2))
    z = int(np.argmax(disagreeing)) if disagreeing.any() else int(np.argmax(labelled))
    direction = maps[0].direction
    flip = (slice(None, None, -1 if direction[4] < 0 else 1), slice(None, None, -1 if direction[0] < 0 else 1))

    def cut(path_or_volume):
        volume = read_volume(path_or_volume) if not hasattr(path_or_volume, "array") else path_or_volume
        return np.asarray(volume.array[z])[flip]

    rows = tuple(SliceRow(t.reconstruction, t.dose, cut(layout.volume(case, t.reconstruction, REFERENCE_DOSE)),
                          cut(layout.volume(case, t.reconstruction, t.dose)), cut(t.inputs[0]), cut(t.inputs[1]),
                          cut(m)) for t, m in zip(tasks, maps))
    spacing = maps[0].spacing
    return SlicePanel(case, model, z, (spacing[1], spacing[0]), rows)
