"""Image-domain noise realizations against the projection-domain simulator, ROI by ROI (test-only).

Projection-domain noise is measured without a noise-free image: (x_a - x_b) / sqrt(2) for pairs of
held-out realizations (other seeds than the model's training ones). Image-domain noise is a
model draw minus the model's mean, over sqrt(1 - 1/K): the mean of K training realizations carries
1/K of one realization's noise, so an output (mean + draw) has one realization's noise when the
draw has (1 - 1/K) of it. Each slice of each sample is one independent unit (fan beam: slices
are separate acquisitions); SD and NPS centroid come with their standard errors.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import ndimage

from image_quality import noise_sd, nps_centroid, roi_units
from LowDoseRobustnessLib.simulation.image_noise import train_image_noise_model
from LowDoseRobustnessLib.simulation.simulate import make_projector, simulate_dose_series

Box = tuple[slice, slice]


def body_boxes(volume, box_mm: float = 48.0, margin_mm: float = 9.0) -> dict[str, list[Box]]:
    """Square in-plane ROIs inside the body in every slice: the centre, four edges (``margin_mm`` inside the
    skin) and an interior grid."""
    size = int(round(box_mm / volume.spacing[0]))
    margin = int(round(margin_mm / volume.spacing[0]))
    body = np.ones(volume.array.shape[1:], bool)
    for image in volume.array:
        labels, _ = ndimage.label(image > -500)
        largest = labels == np.argmax(np.bincount(labels.ravel())[1:]) + 1
        body &= ndimage.binary_fill_holes(largest)
    cy, cx = (int(round(c)) for c in ndimage.center_of_mass(body))
    row, column = np.flatnonzero(body[cy]), np.flatnonzero(body[:, cx])
    half = size // 2

    def box(y0, x0):
        return slice(y0, y0 + size), slice(x0, x0 + size)

    boxes = {"centre": [box(cy - half, cx - half)],
             "edge left": [box(cy - half, row[0] + margin)],
             "edge right": [box(cy - half, row[-1] - margin - size + 1)],
             "edge top": [box(column[0] + margin, cx - half)],
             "edge bottom": [box(column[-1] - margin - size + 1, cx - half)]}
    inner = ndimage.binary_erosion(body, iterations=margin)
    boxes["interior"] = [box(y0, x0) for y0 in range(0, body.shape[0] - size + 1, size)
                         for x0 in range(0, body.shape[1] - size + 1, size) if inner[box(y0, x0)].all()]
    return boxes


def validate(volume, settings, boxes: dict[str, list[Box]], doses=(0.25,), training_realizations: int = 3,
             held_out_pairs: int = 1, draws: int = 6, seed: int = 0) -> list[dict]:
    """One row per ROI and dose (the 100 % reference included): SD and NPS centroid, image over projection."""
    projector = make_projector(volume, settings)
    model = train_image_noise_model(volume, doses, replace(settings, noise="image"), seed, training_realizations,
                                    projector)
    held_out = [simulate_dose_series(volume, doses, settings, 1000 + seed + k, projector)
                for k in range(2 * held_out_pairs)]
    scale = np.sqrt(1.0 - 1.0 / training_realizations)
    rows = []
    for dose in sorted(set(doses) | {1.0}):
        index = model.doses.index(dose)
        projection = np.stack([(held_out[2 * k][dose].array - held_out[2 * k + 1][dose].array) / np.sqrt(2)
                               for k in range(held_out_pairs)])
        image = np.stack([model.noise(dose, draw) for draw in range(draws)]) / scale
        mean_difference = model.mean_hu[index] - np.mean([series[dose].array for series in held_out], axis=0)
        for name, roi_boxes in boxes.items():
            shift = np.mean([mean_difference[(...,) + box].mean() for box in roi_boxes])
            rows.append(_compare(name, dose, roi_units(projection, roi_boxes), roi_units(image, roi_boxes),
                                 float(shift), volume.spacing[0]))
    return rows


def _compare(name: str, dose: float, projection: list[np.ndarray], image: list[np.ndarray], mean_difference: float,
             pixel_mm: float) -> dict:
    sd_p, se_p, n_p = noise_sd(projection)
    sd_i, se_i, n_i = noise_sd(image)
    f_p, fe_p, _ = nps_centroid(projection, pixel_mm)
    f_i, fe_i, _ = nps_centroid(image, pixel_mm)
    return dict(roi=name, dose=dose, n_projection=n_p, n_image=n_i, sd_projection=sd_p, sd_image=sd_i,
                sd_ratio=sd_i / sd_p, sd_ratio_se=sd_i / sd_p * np.hypot(se_p / sd_p, se_i / sd_i),
                centroid_projection=f_p, centroid_image=f_i, centroid_ratio=f_i / f_p,
                centroid_ratio_se=f_i / f_p * np.hypot(fe_p / f_p, fe_i / f_i),
                mean_shift_hu=mean_difference)


def print_table(title: str, rows: list[dict]) -> None:
    """The rows as the table of the documentation (LowDoseRobustness/Docs/image_noise.md)."""
    print(f"\n{title}")
    print("| ROI | dose | units proj./image | SD proj. (HU) | SD image / proj. | NPS centroid proj. (1/mm) "
          "| centroid image / proj. | mean image - proj. (HU) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['roi']} | {r['dose']:.0%} | {r['n_projection']}/{r['n_image']} | {r['sd_projection']:.1f} "
              f"| {r['sd_ratio']:.3f} +- {r['sd_ratio_se']:.3f} | {r['centroid_projection']:.3f} "
              f"| {r['centroid_ratio']:.3f} +- {r['centroid_ratio_se']:.3f} | {r['mean_shift_hu']:+.1f} |")
