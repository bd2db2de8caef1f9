"""A dose-robustness study of one CT: simulate -> reconstruct -> segment -> compare -> report.

For each reconstruction method, the CT is simulated at every dose fraction (plus the 100 %
reference through the same chain), each volume is segmented, and each low-dose mask is
compared with the full-dose mask of the same reconstruction (the paper's robustness,
reference ``full_dose``) and, when given, every mask with the ground truth
(``ground_truth``). Files under ``output_dir`` as :class:`.contract.StudyLayout` names them.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

import pandas as pd

from LowDoseRobustnessLib.contract import StudyLayout
from LowDoseRobustnessLib.evaluation.disagreement import disagreement_map
from LowDoseRobustnessLib.io.volumes import write_volume
from LowDoseRobustnessLib.io.labels import LabelNames, relabel_by_name, write_label_names
from LowDoseRobustnessLib.evaluation.metrics import compare_label_maps
from LowDoseRobustnessLib.progress import CancelCheck, Progress, ProgressCallback
from LowDoseRobustnessLib.evaluation.report import write_report
from LowDoseRobustnessLib.evaluation.results import tidy_table, write_table
from LowDoseRobustnessLib.segmenters import get_segmenter
from LowDoseRobustnessLib.simulation.simulate import SimulationSettings, make_projector, simulate_dose_series
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.volume import Volume


def run_study(ct: Volume, doses: Sequence[float], output_dir: str | Path, model: str = "builtin",
              reconstructions: Sequence[str] = ("fbp",), settings: SimulationSettings = SimulationSettings(),
              ground_truth: Optional[Volume] = None, ground_truth_names: Optional[LabelNames] = None,
              case: str = "case", seed: int = 0, overwrite: bool = False,
              progress: Optional[ProgressCallback] = None, cancel: Optional[CancelCheck] = None) -> pd.DataFrame:
    """Run the whole study and write its files; returns the tidy results table.

    With ``ground_truth_names`` the ground truth is matched to the model's labels by name
    (:func:`labels.relabel_by_name`); without, its values must already be the model's.
    """
    layout = StudyLayout(output_dir)
    if layout.results_csv.exists() and not overwrite:
        raise FileExistsError(f"{layout.root} already holds a study (results.csv); pass overwrite=True "
                              "(CLI: --overwrite) or choose another folder")
    if ground_truth is not None and not ground_truth.same_grid(ct):
        raise InputError("the ground-truth label map is not on the CT's grid (shape, spacing, origin, direction)")
    all_doses = sorted(set(doses) | {1.0}, reverse=True)
    steps = Progress(len(reconstructions) * (1 + 2 * len(all_doses)) + 2, progress, cancel)
    segmenter = get_segmenter(model)
    steps.step(f"segmenter {model} ready")
    projector = make_projector(ct, settings)
    tables = []
    for reconstruction in reconstructions:
        method_settings = replace(settings, reconstruction=reconstruction,
                                  reconstruction_options={} if reconstruction != settings.reconstruction
                                  else settings.reconstruction_options)
        volumes = simulate_dose_series(ct, doses, method_settings, seed, projector, cancel=cancel)
        steps.step(f"{reconstruction}: simulated {len(volumes)} dose levels")
        masks = {}
        for dose, volume in volumes.items():
            write_volume(volume, layout.volume(case, reconstruction, dose), overwrite=True)
            segmentation = segmenter.segment(volume)
            masks[dose] = segmentation
            path = write_volume(segmentation.label_map, layout.segmentation(case, reconstruction, model, dose),
                                overwrite=True)
            write_label_names(path, segmentation.names, overwrite=True)
            steps.step(f"{reconstruction}: segmented {dose:.0%} dose")
        names = masks[1.0].names
        truth = ground_truth
        if truth is not None and ground_truth_names:
            truth = truth.with_array(relabel_by_name(truth.array, ground_truth_names, names))
        for dose, segmentation in masks.items():
            tag = dict(case=case, dose=dose, reconstruction=reconstruction, model=model)
            if dose < 1.0:
                metrics = compare_label_maps(masks[1.0].label_map, segmentation.label_map, names=names)
                tables.append(tidy_table(metrics, reference="full_dose", **tag))
                write_volume(disagreement_map(masks[1.0].label_map, segmentation.label_map),
                             layout.disagreement(case, reconstruction, model, dose), overwrite=True)
            if truth is not None:
                metrics = compare_label_maps(truth, segmentation.label_map, names=names)
                tables.append(tidy_table(metrics, reference="ground_truth", **tag))
            steps.step(f"{reconstruction}: compared {dose:.0%} dose")
    results = pd.concat(tables, ignore_index=True)
    write_table(results, layout.results_csv, overwrite=True)
    write_table(results, layout.results_parquet, overwrite=True)
    write_report(results, layout.root, overwrite=True)
    steps.step("report written")
    return results
