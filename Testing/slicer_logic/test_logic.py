"""The module logic on real MRML nodes, running the real simulator in a background process."""
from pathlib import Path

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="needs the slicer-core wheel (pip install slicer-core)")

from LowDoseRobustnessLib.cli.process_runner import ProcessError, RunnerCallbacks
from LowDoseRobustnessLib.volume import Volume
from LowDoseRobustnessSlicer import nodes
from LowDoseRobustnessSlicer.logic import StudyLogic, agreement_summary
from LowDoseRobustnessSlicer.study import StudyPaths, StudySettings, parse_doses, plan_study, selected_doses

HERE = Path(__file__).parent


def phantom() -> Volume:
    """Two slices of a water disc with a bone insert, in air; an oblique-free LPS grid off the origin."""
    y, x = np.mgrid[:40, :40]
    r = np.hypot(x - 19.5, y - 19.5)
    image = np.where(r < 16, 0.0, -1000.0)
    image[np.hypot(x - 25, y - 19.5) < 4] = 700.0
    array = np.repeat(image[None], 2, axis=0).astype(np.int16)
    return Volume(array, (2.0, 2.0, 3.0), (-40.0, 25.0, 100.0), (-1, 0, 0, 0, -1, 0, 0, 0, 1))


@pytest.fixture
def logic(scene):
    return StudyLogic(scene, cli_module="fake_lowdose", extra_paths=[HERE])


def test_plan_follows_the_cli_contracts(tmp_path):
    settings = StudySettings(doses=(0.4, 0.2, 0.2), model="totalsegmentator:total", seed=3, geometry="fast",
                             reconstruction="iterative")
    plan = plan_study(settings, StudyPaths(tmp_path), has_ground_truth=True, overwrite=True, case="CTChest")
    simulate = plan[0].arguments
    assert simulate[:2] == ["simulate", str(tmp_path / "input.nii.gz")]
    assert simulate[simulate.index("--dose") + 1] == "0.2" and simulate.count("--dose") == 2
    assert simulate[simulate.index("--reference") + 1] == str(tmp_path / "simulated" / "dose_100.nii.gz")
    assert simulate[simulate.index("--recon") + 1] == "iterative" and "--overwrite" in simulate
    labels = [step.label for step in plan]
    assert labels == ["simulate", "segment 20%", "segment 40%", "segment 100%", "compare 20%", "compare 40%",
                      "compare 100%"]
    compare = plan[-1].arguments
    assert compare[1] == str(tmp_path / "ground_truth.nii.gz")
    assert compare[compare.index("--disagreement") + 1] == str(tmp_path / "metrics" / "disagreement_100.nii.gz")
    assert compare[compare.index("--reference-kind") + 1] == "ground_truth" and "CTChest" in compare
    assert compare[compare.index("--dose") + 1] == "1" and compare[compare.index("--model") + 1] == "totalsegmentator:total"
    assert parse_doses("20, 40%") == (0.2, 0.4) and parse_doses("0.25") == (0.25,)
    assert selected_doses({20: True, 40: False, 60: True}, "5, 0.5") == (0.005, 0.05, 0.2, 0.6)
    with pytest.raises(ValueError, match="between 0 and 1"):
        StudySettings(doses=(1.0,))


def test_real_simulator_gives_volume_nodes_on_the_input_grid(scene, tmp_path):
    logic = StudyLogic(scene)  # the real lowdose CLI of this checkout
    volume = phantom()
    input_node = nodes.add_volume_node(scene, volume, "phantom")
    progress = []
    study = logic.run_study(input_node, doses=[0.25], geometry="fast", backend="cpu", steps=["simulate"],
                            output_folder=tmp_path, wait_for_completion=True,
                            callbacks=RunnerCallbacks(on_progress=lambda f, m: progress.append((f, m))))
    assert set(study.results.volume_nodes) == {0.25, 1.0}
    for node in study.results.volume_nodes.values():
        out = nodes.volume_from_node(node)
        assert out.same_grid(volume)
        assert np.mean(out.array[:, 15:25, 8:16]) == pytest.approx(0, abs=60)  # water stays water
    noise = [np.std(nodes.volume_from_node(study.results.volume_nodes[d]).array[:, 15:25, 8:16]) for d in (0.25, 1.0)]
    assert noise[0] > noise[1]
    assert any("reconstructed 25% dose" in m for _, m in progress) and progress[-1][0] == pytest.approx(1.0)
    assert study.results.volume_nodes[0.25].GetName() == "phantom 25% dose"
    display = study.results.volume_nodes[0.25].GetDisplayNode()
    assert (display.GetWindow(), display.GetLevel()) == (400.0, 40.0)  # one window for every dose
    with pytest.raises(FileExistsError, match="already exist"):  # nothing overwritten without asking
        logic.run_study(input_node, doses=[0.25], geometry="fast", steps=["simulate"], output_folder=tmp_path)


def test_full_study_loads_segmentations_table_plot_and_disagreement(scene, logic, tmp_path):
    input_node = nodes.add_volume_node(scene, phantom(), "phantom")
    study = logic.run_study(input_node, doses=[0.1, 0.5], model="threshold", geometry="fast", backend="cpu",
                            output_folder=tmp_path, wait_for_completion=True, seed=1,
                            steps=["simulate", "segment", "compare", "report"])
    assert study.results.report_path == tmp_path / "report" / "report.html"
    results = study.results
    assert set(results.segmentation_nodes) == {0.1, 0.5, 1.0}
    segment_names = {results.segmentation_nodes[0.1].GetSegmentation().GetNthSegment(i).GetName() for i in range(2)}
    assert segment_names == {"soft_tissue", "bone"}
    table = results.table_node
    assert table.GetNumberOfRows() == 4  # 2 doses x 2 labels
    rows = nodes.rows_from_table_node(table)
    assert {(r["dose_percent"], r["name"]) for r in rows} == {(d, n) for d in (10, 50) for n in ("soft_tissue", "bone")}
    assert {r["case"] for r in rows} == {"phantom"} and {r["reference"] for r in rows} == {"full_dose"}
    assert all(0 <= r["dice"] <= 1 for r in rows)
    assert results.chart_node.GetNumberOfPlotSeriesNodes() == 2
    assert set(results.disagreement_nodes) == {0.1, 0.5}
    assert results.disagreement_nodes[0.1].GetDisplayNode().GetVisibility()
    assert not results.disagreement_nodes[0.5].GetDisplayNode().GetVisibility()
    assert not any(n.GetDisplayNode().GetVisibility() for n in results.segmentation_nodes.values())
    assert "10 % dose: mean Dice" in agreement_summary(results.metrics_rows)
    reloaded = StudyLogic(slicer.vtkMRMLScene()).load_study_folder(tmp_path, [0.1, 0.5], "again")
    assert reloaded.results.table_node.GetNumberOfRows() == 4


def test_ground_truth_is_exported_and_compared_at_every_dose(scene, logic, tmp_path):
    volume = phantom()
    input_node = nodes.add_volume_node(scene, volume, "phantom")
    truth = np.where(volume.array > -300, 1, 0).astype(np.uint8)
    truth_node = nodes.segmentation_from_labels(scene, volume.with_array(truth), {1: "soft_tissue"}, "truth",
                                                reference_volume_node=input_node)
    study = logic.run_study(input_node, doses=[0.5], model="threshold", ground_truth=truth_node, geometry="fast",
                            backend="cpu", output_folder=tmp_path, wait_for_completion=True)
    assert (tmp_path / "ground_truth.labels.json").exists()
    assert {r["dose_percent"] for r in study.results.metrics_rows} == {50, 100}
    assert set(study.results.disagreement_nodes) == {0.5, 1.0}


def test_failing_step_reports_the_cli_message_and_keeps_earlier_results(scene, logic, tmp_path):
    input_node = nodes.add_volume_node(scene, phantom(), "phantom")
    with pytest.raises(ProcessError, match="model 'broken' has no weights"):
        logic.run_study(input_node, doses=[0.5], model="broken", geometry="fast", backend="cpu",
                        output_folder=tmp_path, wait_for_completion=True)
    assert scene.GetNodesByClass("vtkMRMLScalarVolumeNode").GetNumberOfItems() == 3  # input + 50 % + 100 %


def test_results_that_cannot_be_loaded_are_reported_not_lost(scene, logic, tmp_path, monkeypatch):
    input_node = nodes.add_volume_node(scene, phantom(), "phantom")
    monkeypatch.setattr(StudyLogic, "load_segmentation", lambda *a, **k: (_ for _ in ()).throw(OSError("disk gone")))
    finished = []
    with pytest.raises(ValueError, match="could not load the results of segment 50%: disk gone"):
        logic.run_study(input_node, doses=[0.5], model="threshold", output_folder=tmp_path, wait_for_completion=True,
                        callbacks=RunnerCallbacks(on_finished=finished.append))
    assert "disk gone" in str(finished[0])
    assert scene.GetNodesByClass("vtkMRMLTableNode").GetNumberOfItems() == 2  # metrics and plot tables still loaded


def test_inside_slicer_commands_run_with_python_slicer(tmp_path, monkeypatch):
    from LowDoseRobustnessSlicer import logic as logic_module

    app = tmp_path / "bin" / "SlicerApp-real"
    app.parent.mkdir()
    python_slicer = app.parent / "PythonSlicer"
    for path in (app, python_slicer):
        path.write_text("#!/bin/sh\n")
        path.chmod(0o755)
    monkeypatch.setattr(logic_module.sys, "executable", str(app))
    assert logic_module.default_python() == str(python_slicer)
    monkeypatch.setattr(logic_module.sys, "executable", "/usr/bin/python3")
    assert logic_module.default_python() == "/usr/bin/python3"
