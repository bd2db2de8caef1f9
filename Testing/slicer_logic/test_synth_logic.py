"""SyntheticCT logic on real MRML nodes with the real ``lowdose synth``, on segments of any name."""
import json

import numpy as np
import pytest

pytest.importorskip("slicer", reason="needs the slicer-core wheel (pip install slicer-core)")

from LowDoseRobustnessLib.cli.process_runner import RunnerCallbacks
from LowDoseRobustnessLib.contract import SAMPLE_CT, SAMPLE_LABELS
from LowDoseRobustnessLib.io.volumes import read_volume
from LowDoseRobustnessLib.volume import Volume
from LowDoseRobustnessSlicer import nodes
from SyntheticCTLib.hu_statistics import DEFAULT_TISSUE, read_hu_statistics
from SyntheticCTSlicer.logic import SynthLogic


def drawn_labels():
    """Two structures as a user draws them in the Segment Editor: Segment_1 and a 'tumour'."""
    array = np.zeros((3, 24, 28), np.uint8)
    array[:, 4:12, 4:12] = 1
    array[:, 14:20, 16:24] = 2
    return Volume(array, (1.5, 1.5, 4.0), (10.0, -20.0, 5.0), (-1, 0, 0, 0, -1, 0, 0, 0, 1))


def test_segments_from_a_label_map_file_take_their_tissue_by_label_value_and_synthesise(scene, tmp_path):
    """Blocker 4: Slicer names the segments of the sample labels Segment_<value>; synth used to fail on them."""
    ct = nodes.add_volume_node(scene, read_volume(SAMPLE_CT), "ct")
    labels = read_volume(SAMPLE_LABELS)
    values = [int(v) for v in np.unique(labels.array) if v > 0]
    segments = nodes.segmentation_from_labels(scene, labels, {v: f"Segment_{v}" for v in values}, "labels",
                                              reference_volume_node=ct)
    logic = SynthLogic(scene)
    choices = {choice.name: choice for choice in logic.tissue_choices(segments)}
    table = {t.label: t.name for t in read_hu_statistics().tissues.values() if t.label > 0}
    assert choices["Segment_5"].tissue == "liver" == table[5] and choices["Segment_5"].source == "label value"
    assert {c.tissue for c in choices.values()} <= set(table.values())
    logs = []
    job = logic.generate(segments, strategy="constant", count=1, add_noise=False, output_folder=tmp_path,
                         wait_for_completion=True, callbacks=RunnerCallbacks(on_log=logs.append))
    assert any("filled by their label value" in line for line in logs)
    synthetic = nodes.volume_from_node(job.results.volume_node)
    assert synthetic.same_grid(labels)
    names = job.results.segmentation_node.GetSegmentation()
    assert "Segment_5" in {names.GetNthSegment(i).GetName() for i in range(names.GetNumberOfSegments())}


def test_the_users_tissue_choice_fills_a_segment_and_unknown_names_fall_back_to_soft_tissue(scene, tmp_path):
    grid = drawn_labels()
    segmentation = nodes.segmentation_from_labels(scene, grid, {1: "Segment_1", 2: "tumour"}, "drawn",
                                                  reference_volume_node=nodes.add_volume_node(scene, grid, "ct"))
    logic = SynthLogic(scene)
    automatic = {c.name: (c.tissue, c.source) for c in logic.tissue_choices(segmentation)}
    assert automatic == {"Segment_1": (DEFAULT_TISSUE, "default"), "tumour": (DEFAULT_TISSUE, "default")}
    assert "liver" in logic.tissue_names() and DEFAULT_TISSUE in logic.tissue_names()
    logs = []
    job = logic.generate(segmentation, strategy="constant", count=1, seed=1, add_noise=False,
                         tissues={"tumour": "air"}, output_folder=tmp_path, wait_for_completion=True,
                         callbacks=RunnerCallbacks(on_log=logs.append))
    assert json.loads((tmp_path / "tissues.json").read_text()) == {"tumour": "air"}
    assert any("warning: no HU statistics for 'Segment_1'" in line for line in logs)
    hu = nodes.volume_from_node(job.results.volume_node).array
    labels = nodes.labels_from_segmentation(job.results.segmentation_node, job.results.volume_node)[0].array
    names = nodes.label_names(job.results.segmentation_node)
    (tumour,) = [value for value, name in names.items() if name == "tumour"]  # seed 1 drops no label
    assert hu[labels == tumour].mean() < -600  # filled as air, as chosen
    with pytest.raises(FileExistsError):
        logic.generate(segmentation, output_folder=tmp_path)


def test_arguments_without_noise_and_with_the_source_ct(scene, tmp_path):
    logic = SynthLogic(scene)
    arguments = logic.synth_arguments(tmp_path / "l.nii.gz", tmp_path / "out", "texture", 3, 1, False, 1.0, 1e5,
                                      "fast", tmp_path / "ct.nii.gz", True, tmp_path / "tissues.json")
    assert arguments[:2] == ["synth", str(tmp_path / "l.nii.gz")] and "--no-noise" in arguments
    assert "--incident-flux" not in arguments and arguments[-1] == "--overwrite"
    assert arguments[arguments.index("--tissues") + 1] == str(tmp_path / "tissues.json")
    noisy = logic.synth_arguments(tmp_path / "l", tmp_path / "o", "constant", 1, 0, True, 0.5, 2e5, "fast", None, False)
    assert noisy[noisy.index("--incident-flux") + 1] == "100000"  # the dose scales the photons: d * I0
    with pytest.raises(ValueError, match="strategy"):
        logic.synth_arguments(tmp_path / "l", tmp_path / "o", "fancy", 1, 0, False, 1.0, 1e5, "fast", None, False)
