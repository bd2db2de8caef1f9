"""The module's logic drives the real engine (``lowdose study``) and loads the folder it writes into a real scene.

One study of the bundled sample (fast geometry, 25 % dose, fbp, built-in model, its labels as
ground truth) is run twice: by ``lowdose study`` on the command line, and by the batch script
(``Slicer --no-main-window`` path: module logic -> engine). Both folders must hold the same study.
"""
import importlib.util
import subprocess
import time
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

slicer = pytest.importorskip("slicer", reason="needs the slicer-core wheel (pip install slicer-core)")

from LowDoseRobustnessLib.cli.process_runner import ProcessError, RunnerCallbacks, lowdose_command
from LowDoseRobustnessLib.contract import (ADDED, AGREE, COLUMNS, DISAGREEMENT_CLASSES, MISSED, RELABELLED, SAMPLE_CT,
                                           SAMPLE_LABELS, StudyLayout)
from LowDoseRobustnessLib.errors import Cancelled, InputError
from LowDoseRobustnessLib.io.volumes import read_volume
from LowDoseRobustnessSlicer import nodes, overlays, tables, views
from LowDoseRobustnessSlicer.logic import StudyJob, StudyLogic
from LowDoseRobustnessSlicer.study_folder import Cell

from shared_data import REPOSITORY
from slicer_application import slicer_application

CASE = "sample"
OPTIONS = ["--dose", "0.25", "--recon", "fbp", "--model", "builtin", "--case", CASE, "--seed", "3",
           "--geometry", "fast", "--backend", "cpu"]


def run_batch_script(argv):
    """``LowDoseRobustness/Scripts/batch_study.py`` as Slicer runs it with ``--python-script`` (minus the exit)."""
    spec = importlib.util.spec_from_file_location("batch_study", REPOSITORY / "LowDoseRobustness" / "Scripts" /
                                                  "batch_study.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script.main(argv)


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """(the CLI's study folder, the batch script's study folder) of the same study."""
    root = tmp_path_factory.mktemp("studies")
    cli, batch = root / "cli", root / "batch"
    arguments = ["study", str(SAMPLE_CT), "--ground-truth", str(SAMPLE_LABELS), *OPTIONS, "-o", str(cli)]
    command_line = subprocess.Popen(lowdose_command(arguments), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)  # both at once: two cores
    with pytest.MonkeyPatch.context() as monkeypatch, slicer_application(monkeypatch):
        assert run_batch_script([str(SAMPLE_CT), "--ground-truth", str(SAMPLE_LABELS), *OPTIONS,
                                 "-o", str(batch)]) == 0
    assert command_line.wait() == 0, command_line.stderr.read()
    return cli, batch


def engine_files(folder):
    """The files the engine wrote (the module also exports its inputs and opens the folder: inputs/, study.json)."""
    return {p.relative_to(folder) for p in folder.rglob("*") if p.is_file()
            and p.relative_to(folder).parts[0] != "inputs" and p.name != StudyLayout(folder).manifest.name}


def test_batch_mode_writes_the_folder_lowdose_study_writes(folders):
    cli, batch = folders
    assert engine_files(cli) == engine_files(batch)
    assert StudyLayout(cli).results_csv.read_text() == StudyLayout(batch).results_csv.read_text()
    for path in engine_files(cli):
        if path.name.endswith(".nii.gz"):
            np.testing.assert_array_equal(read_volume(cli / path).array, read_volume(batch / path).array)
    layout = StudyLayout(batch)
    assert layout.input_volume(CASE).exists() and layout.input_ground_truth(CASE).exists()
    np.testing.assert_array_equal(read_volume(layout.input_volume(CASE)).array, read_volume(SAMPLE_CT).array)


def test_study_folder_loads_as_volumes_segmentations_table_plot_and_disagreement(folders, scene):
    _, folder = folders
    study = StudyLogic(scene).load_study(folder)
    layout = StudyLayout(folder)
    low, full = Cell(CASE, "fbp", 0.25), Cell(CASE, "fbp", 1.0)
    assert set(study.volumes) == {low, full} and study.low_dose_cells() == [low]
    assert set(study.segmentations) == {(low, "builtin"), (full, "builtin")} and set(study.disagreements) == {(low, "builtin")}
    assert nodes.volume_from_node(study.volumes[low]).same_grid(read_volume(SAMPLE_CT))
    segments = study.segmentations[(low, "builtin")].GetSegmentation()
    assert {segments.GetNthSegment(i).GetName() for i in range(segments.GetNumberOfSegments())} >= {"liver", "spleen"}
    # the metrics table is results.csv, cell for cell, with units and meanings from the contract
    columns, rows = tables.read_csv_rows(layout.results_csv)
    table = study.table_node.GetTable()
    assert [table.GetColumnName(c) for c in range(table.GetNumberOfColumns())] == columns
    assert table.GetNumberOfRows() == len(rows) and {r["reference"] for r in rows} == {"full_dose", "ground_truth"}
    for r, row in enumerate(rows):
        for c, column in enumerate(columns):
            value = table.GetColumn(c).GetValue(r)
            expected = row[column]
            if isinstance(value, str):
                assert value == expected, (r, column)
            else:
                np.testing.assert_equal(value, float(expected) if expected else np.nan, err_msg=f"{r} {column}")
    assert study.table_node.GetColumnUnitLabel("hd95_mm") == "mm"
    assert study.table_node.GetColumnDescription("dice") == COLUMNS["dice"][1]
    # Dice against dose: one line per structure, from the robustness rows
    robust = [row for row in rows if row["reference"] == "full_dose"]
    assert study.chart_node.GetNumberOfPlotSeriesNodes() == len({row["name"] for row in robust})
    # the disagreement segmentation holds the map's four classes, voxel for voxel
    classes = read_volume(layout.disagreement(CASE, "fbp", "builtin", 0.25)).array
    reference = read_volume(layout.segmentation(CASE, "fbp", "builtin", 1.0)).array
    overlay = study.disagreements[(low, "builtin")]
    counts = overlays.class_voxel_counts(overlay, study.volumes[low])
    expected = {c.name: int(np.sum(classes == c.value)) for c in DISAGREEMENT_CLASSES if c.value != AGREE}
    expected["agree"] = int(np.sum((classes == AGREE) & (reference > 0)))
    assert counts == expected and counts["relabelled"] > 0  # class 3 occurs with the multi-label model
    segments = overlay.GetSegmentation()
    colours = {segments.GetNthSegment(i).GetName(): segments.GetNthSegment(i).GetColor()
               for i in range(segments.GetNumberOfSegments())}
    assert colours == {c.name: pytest.approx(c.colour) for c in DISAGREEMENT_CLASSES}
    display = overlay.GetDisplayNode()
    visible = {name: display.GetSegmentVisibility(segments.GetSegmentIdBySegmentName(name)) for name in colours}
    assert visible == {"agree": False, "missed": True, "added": True, "relabelled": True}
    overlays.set_agreement_visible(overlay, True)
    assert display.GetSegmentVisibility(segments.GetSegmentIdBySegmentName("agree"))
    assert {MISSED, ADDED, RELABELLED} == {c.value for c in DISAGREEMENT_CLASSES if c.value != AGREE}


def test_selecting_a_result_shows_it_beside_full_dose_and_a_row_centres_the_views(folders, scene, slice_views):
    _, folder = folders
    logic = StudyLogic(scene)
    study = logic.load_study(folder)
    (low,) = study.low_dose_cells()
    overlay = logic.show_cell(study, low)
    red, yellow = slice_views["Red"][1], slice_views["Yellow"][1]
    assert red.GetBackgroundVolumeID() == study.volumes[low].GetID()
    assert yellow.GetBackgroundVolumeID() == study.volumes[study.full_dose(low)].GetID()
    assert red.GetLinkedControl() and yellow.GetLinkedControl()
    assert overlay.GetDisplayNode().GetVisibility()
    row = next(i for i, r in enumerate(study.rows) if r["name"] == "spleen" and r["reference"] == "full_dose")
    assert logic.centre_on_study_row(study, row) == low
    layout = ElementTree.fromstring(views.STUDY_LAYOUT)  # the layout the module sets: these two views, table, plot
    assert [v.get("singletontag") for v in layout.iter("view")] == [views.LOW_DOSE_VIEW, views.FULL_DOSE_VIEW,
                                                                    "TableView1", "PlotView1"]
    full_dose = study.segmentations[(study.full_dose(low), "builtin")]
    centre = full_dose.GetSegmentCenterRAS(full_dose.GetSegmentation().GetSegmentIdBySegmentName("spleen"))
    offsets = slice_views["Red"][0].GetSliceToRAS()
    assert offsets.GetElement(2, 3) == pytest.approx(centre[2], abs=1e-3)  # the axial view shows the spleen's centre


def test_a_study_with_failed_tasks_still_shows_what_was_computed(folders, scene):
    """The engine records failed tasks and exits non-zero; the results it wrote are loaded all the same."""
    _, folder = folders
    job = StudyJob(StudyLayout(folder), CASE)
    heard = []
    callbacks = StudyLogic(scene)._loading_callbacks(job, RunnerCallbacks(on_finished=heard.append), True)
    error = ProcessError("lowdose study: error: 1 of 6 tasks failed (see failures.csv)", "study", 1)
    callbacks.on_finished(error)
    assert heard == [error] and job.study is not None and job.study.table_node.GetNumberOfRows() > 0


def test_folders_that_are_not_the_studys_are_refused_before_anything_runs(scene, tmp_path):
    logic = StudyLogic(scene)
    ct, _ = logic.load_sample()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not empty and holds no lowdose study"):
        logic.run_study(ct, doses=[0.5], output_folder=foreign)
    with pytest.raises(InputError, match="dose"):
        logic.run_study(ct, doses=[1.5], output_folder=tmp_path / "new")
    with pytest.raises(InputError, match="reconstruction"):
        logic.run_study(ct, doses=[0.5], reconstructions=["magic"], output_folder=tmp_path / "new")


def test_the_engines_error_comes_back_as_one_line_and_the_inputs_stay_the_studys(scene, tmp_path):
    logic = StudyLogic(scene)
    ct, _ = logic.load_sample()
    finished = []
    with pytest.raises(ProcessError, match=r"^lowdose study: error: .*--geometry.*helical"):
        logic.run_study(ct, doses=[0.5], geometry="helical", output_folder=tmp_path,
                        wait_for_completion=True, callbacks=RunnerCallbacks(on_finished=finished.append))
    assert isinstance(finished[0], ProcessError) and "\n" not in str(finished[0])
    other = nodes.add_volume_node(scene, read_volume(SAMPLE_CT).with_array(read_volume(SAMPLE_CT).array + 1), "x")
    with pytest.raises(FileExistsError, match="another input CT"):  # asked before anything is replaced
        logic.run_study(other, doses=[0.5], output_folder=tmp_path, case=ct.GetName())


def test_cancel_returns_at_once_and_stops_the_engine(scene, tmp_path):
    logic = StudyLogic(scene)
    ct, _ = logic.load_sample()
    job = logic.run_study(ct, doses=[0.2, 0.4, 0.6, 0.8], reconstructions=["fbp", "iterative"], geometry="fast",
                          output_folder=tmp_path)
    deadline = time.monotonic() + 30
    while job.runner._process is None and time.monotonic() < deadline:  # the engine process has started
        time.sleep(0.05)
    process = job.runner._process
    started = time.monotonic()
    job.cancel()
    assert time.monotonic() - started < 0.5  # the GUI thread is not blocked while the process tree dies
    with pytest.raises(Cancelled):
        job.wait_for_completion(timeout=30)
    assert process.poll() is not None and job.study is None
