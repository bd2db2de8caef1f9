"""The extension's screenshot: what the module's views show for a study, rendered from the study folder.

    python LowDoseRobustness/Scripts/render_screenshot.py STUDY_FOLDER Resources/Screenshots/LowDoseRobustness.png

Left, as the module's Red view: the lowest dose of the first reconstruction (soft-tissue window) with
its disagreement map in the module's colours (missed red, added blue, relabelled yellow); right, as
the linked Yellow view: the full-dose volume of the same reconstruction. The axial slice is the one
with the most disagreeing voxels. A rendering of the study's files, not a capture of the Slicer window.
"""
import argparse
import csv
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from LowDoseRobustnessLib.contract import AGREE, DISAGREEMENT_CLASSES, StudyLayout  # noqa: E402
from LowDoseRobustnessLib.io.atomic import atomic_output  # noqa: E402
from LowDoseRobustnessLib.io.volumes import read_volume  # noqa: E402

WINDOW_HU = (40.0 - 200.0, 40.0 + 200.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study")
    parser.add_argument("output")
    arguments = parser.parse_args()
    layout = StudyLayout(arguments.study)
    with layout.results_csv.open(newline="") as stream:
        rows = [row for row in csv.DictReader(stream) if row["reference"] == "full_dose"]
    row = min(rows, key=lambda r: float(r["dose"]))
    case, reconstruction, model, dose = row["case"], row["reconstruction"], row["model"], float(row["dose"])
    low_volume = read_volume(layout.volume(case, reconstruction, dose))
    direction = np.reshape(low_volume.direction, (3, 3))
    view = (slice(None), slice(None, None, int(np.sign(direction[1, 1]) or 1)),
            slice(None, None, int(np.sign(direction[0, 0]) or 1)))  # anterior up, patient's right on the left
    low = low_volume.array[view]
    full = read_volume(layout.volume(case, reconstruction, 1.0)).array[view]
    classes = read_volume(layout.disagreement(case, reconstruction, model, dose)).array[view]
    z = int(np.argmax((classes != AGREE).sum(axis=(1, 2))))
    colours = np.zeros((*classes.shape[1:], 4))
    for disagreement in DISAGREEMENT_CLASSES:
        if disagreement.value != AGREE:
            colours[classes[z] == disagreement.value] = (*disagreement.colour, 0.85)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4.6), facecolor="black")
    for axis, image, title in ((axes[0], low, f"{reconstruction} {dose:.0%} dose, disagreement with full dose"),
                               (axes[1], full, f"{reconstruction} 100% dose (linked)")):
        axis.imshow(image[z], cmap="gray", vmin=WINDOW_HU[0], vmax=WINDOW_HU[1])
        axis.set_title(title, color="white", fontsize=10)
        axis.axis("off")
    axes[0].imshow(colours)
    labels = [f"{c.name}" for c in DISAGREEMENT_CLASSES if c.value != AGREE]
    handles = [plt.Rectangle((0, 0), 1, 1, color=c.colour) for c in DISAGREEMENT_CLASSES if c.value != AGREE]
    axes[0].legend(handles, labels, loc="lower left", fontsize=8, framealpha=0.6)
    figure.suptitle(f"Low-Dose Robustness: case {case}, model {model}", color="white")
    figure.tight_layout()
    with atomic_output(Path(arguments.output), overwrite=True) as temporary:
        figure.savefig(temporary, dpi=90, facecolor="black", format="png")
    print(f"wrote {arguments.output} (axial slice {z})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
