"""SyntheticCT logic on real MRML nodes, with a stand-in ``lowdose synth`` (same files as the synth branch)."""
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("slicer", reason="needs the slicer-core wheel (pip install slicer-core)")

from LowDoseRobustnessLib.volume import Volume
from LowDoseRobustnessSlicer import nodes
from SyntheticCTSlicer.logic import SynthLogic

HERE = Path(__file__).parent


def labels_volume():
    array = np.zeros((3, 12, 14), np.uint8)
    array[:, 2:6, 2:6] = 1
    array[:, 7:10, 8:12] = 2
    return Volume(array, (1.5, 1.5, 4.0), (10.0, -20.0, 5.0), (-1, 0, 0, 0, -1, 0, 0, 0, 1))


def test_generate_from_a_segmentation_loads_the_first_case_with_names(scene, tmp_path):
    grid = labels_volume()
    segmentation = nodes.segmentation_from_labels(scene, grid, {1: "liver", 2: "spleen"}, "labels",
                                                  reference_volume_node=nodes.add_volume_node(scene, grid, "ct"))
    logic = SynthLogic(scene, cli_module="fake_lowdose", extra_paths=[HERE])
    progress = []
    from LowDoseRobustnessLib.cli.process_runner import RunnerCallbacks
    job = logic.generate(segmentation, strategy="constant", count=2, seed=4, add_noise=True, dose=0.5,
                         incident_flux=2e5, output_folder=tmp_path, wait_for_completion=True,
                         callbacks=RunnerCallbacks(on_progress=lambda f, m: progress.append(m)))
    assert "synthesise: case 2/2" in progress
    volume = nodes.volume_from_node(job.results.volume_node)
    assert volume.same_grid(grid) and job.results.volume_node.GetName() == "synthetic CT synth_000"
    segments = job.results.segmentation_node.GetSegmentation()
    assert {segments.GetNthSegment(i).GetName() for i in range(segments.GetNumberOfSegments())} == {"liver", "spleen"}
    recorded = json.loads((tmp_path / "dataset" / "dataset.json").read_text())["args"]
    assert recorded["strategy"] == "constant" and recorded["count"] == 2 and recorded["seed"] == 4
    assert recorded["incident_flux"] == pytest.approx(1e5) and not recorded["no_noise"]  # dose scales I0
    with pytest.raises(FileExistsError):
        logic.generate(segmentation, output_folder=tmp_path)


def test_arguments_without_noise_and_with_the_source_ct(scene, tmp_path):
    logic = SynthLogic(scene)
    arguments = logic.synth_arguments(Path("l.nii.gz"), Path("out"), "texture", 3, 1, False, 1.0, 1e5, "fast",
                                      Path("ct.nii.gz"), True)
    assert arguments[:2] == ["synth", "l.nii.gz"] and "--no-noise" in arguments and "--incident-flux" not in arguments
    assert arguments[arguments.index("--ct") + 1] == "ct.nii.gz" and arguments[-1] == "--overwrite"
    with pytest.raises(ValueError, match="strategy"):
        logic.synth_arguments(Path("l"), Path("o"), "fancy", 1, 0, False, 1.0, 1e5, "fast", None, False)


def test_a_dataset_without_images_is_reported(scene, tmp_path, monkeypatch):
    grid = labels_volume()
    labelmap = nodes.add_volume_node(scene, grid, "labels", "vtkMRMLLabelMapVolumeNode")
    logic = SynthLogic(scene, cli_module="fake_lowdose", extra_paths=[HERE])
    monkeypatch.setattr("SyntheticCTSlicer.logic.first_case", lambda folder: (_ for _ in ()).throw(
        ValueError(f"no synthetic images found in {folder}")))
    with pytest.raises(ValueError, match="could not load the synthetic case: no synthetic images"):
        logic.generate(labelmap, count=1, add_noise=False, output_folder=tmp_path, wait_for_completion=True)
