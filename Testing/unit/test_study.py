"""``lowdose study`` end to end on crops of the real example CT: the one-CT form, refusals, failures, realizations."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import psutil
import pytest
import SimpleITK as sitk

from LowDoseRobustnessLib.cli import main as lowdose
from LowDoseRobustnessLib.contract import StudyLayout
from LowDoseRobustnessLib.io.labels import relabel_by_name
from LowDoseRobustnessLib.study.cases import find_cases
from LowDoseRobustnessLib.study.engine import run_study
from LowDoseRobustnessLib.study.executors import ProcessPool
from LowDoseRobustnessLib.study.plan import StudyRequest, StudySettings
from ct_crops import write_crop


def test_relabel_by_name_matches_names_and_merged_groups():
    labels = np.array([0, 1, 5, 27, 28, 99])
    source = {1: "spleen", 5: "liver", 27: "vertebrae_L1", 28: "vertebrae_L2", 99: "heart"}
    target = {1: "liver", 2: "spleen", 5: "vertebrae"}
    assert relabel_by_name(labels, source, target).tolist() == [0, 2, 1, 5, 5, 0]


@pytest.fixture(scope="module")
def crop(tmp_path_factory):
    """Slices 8..19 of the example CT and its ground truth."""
    folder = tmp_path_factory.mktemp("crop")
    write_crop(folder / "ct.nii.gz", 8, 12, centre=False)
    write_crop(folder / "truth.nii.gz", 8, 12, labels=True, centre=False)
    return folder


@pytest.fixture
def small(tmp_path):
    """The central 64 x 64 voxels of 4 slices: the cheapest real study."""
    return write_crop(tmp_path / "s.nii.gz", 12)


def small_study(ct, output, *extra):
    return ["study", str(ct), "--dose", "0.25", "--geometry", "fast", "-o", str(output), *extra]


def test_one_ct_form_writes_volumes_masks_tables_and_report_and_resumes(crop, tmp_path, capsys):
    out = tmp_path / "study"
    args = ["study", str(crop / "ct.nii.gz"), "--dose", "0.25", "--recon", "fbp", "--recon", "nlm",
            "--model", "builtin", "--ground-truth", str(crop / "truth.nii.gz"), "--case", "ct", "--seed", "0",
            "--backend", "auto", "--geometry", "fast", "--incident-flux", "1e5", "-o", str(out)]
    assert lowdose(args) == 0
    printed = capsys.readouterr().out
    assert "median ± MAD" in printed and "full_dose" in printed and "report.html" in printed
    results = pd.read_csv(out / "results.csv")
    assert set(results["reference"]) == {"full_dose", "ground_truth"} and set(results["realization"]) == {0}
    robustness = results[results["reference"] == "full_dose"]
    assert set(robustness["name"]) == {"liver", "spleen", "kidney_right", "kidney_left", "vertebrae"}
    assert robustness["dice"].median() > 0.9
    for method in ("fbp", "nlm"):  # the ground truth is matched by name for every reconstruction
        truth_rows = results[(results["reference"] == "ground_truth") & (results["dose"] == 1.0)
                             & (results["reconstruction"] == method)]
        assert (truth_rows.set_index("name").loc[["liver", "spleen"], "dice"] > 0.9).all()
    for folder in ("volumes/ct/fbp", "segmentations/ct/fbp/builtin", "volumes/ct/nlm"):
        assert sorted(p.name for p in (out / folder).glob("*.nii.gz")) == ["dose_025.nii.gz", "dose_100.nii.gz"]
    disagreement = out / "disagreement" / "ct" / "fbp" / "builtin"
    assert sorted(p.name for p in disagreement.glob("*.nii.gz")) == [
        "dose_025.nii.gz", "dose_025_vs_ground_truth.nii.gz", "dose_100_vs_ground_truth.nii.gz"]
    assert json.loads((disagreement / "dose_025.labels.json").read_text()) == {
        "1": "missed", "2": "added", "3": "relabelled"}
    page = (out / "report.html").read_text()
    assert "data:image/png;base64" in page and "full dose beside the lowest dose" in page
    assert (out / "figures" / "slices_ct_builtin.png").exists()
    assert lowdose(args) == 0 and "tasks: 0 run, 12 already done" in capsys.readouterr().out


def test_foreign_folder_locks_changed_settings_and_changed_inputs(small, tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert lowdose(small_study(small, foreign)) == 2
    assert "holds no lowdose study" in capsys.readouterr().err
    assert sorted(p.name for p in foreign.iterdir()) == ["notes.txt"]

    out = tmp_path / "study"
    assert lowdose(small_study(small, out)) == 0
    layout = StudyLayout(out)
    me = psutil.Process()
    layout.lock.write_text(json.dumps({"host": os.uname().nodename, "pid": me.pid,
                                       "process_started": me.create_time(), "locked": "now"}))
    assert lowdose(small_study(small, out)) == 2
    assert f"another study is running in {out} (process {os.getpid()}" in capsys.readouterr().err
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    layout.lock.write_text(json.dumps({"host": os.uname().nodename, "pid": int(gone.stdout), "locked": "then"}))
    assert lowdose(small_study(small, out)) == 0
    assert "removed the stale lock" in capsys.readouterr().err and not layout.lock.exists()

    sitk.WriteImage(sitk.ReadImage(str(small)) + 5, str(small))  # the same case, 5 HU brighter
    assert lowdose(small_study(small, out)) == 0
    captured = capsys.readouterr()
    assert "case s: its CT changed since the last run" in captured.err
    assert "tasks: 4 run, 0 already done" in captured.out

    assert lowdose(small_study(small, out, "--incident-flux", "5e4", "--seed", "3")) == 2
    error = capsys.readouterr().err
    assert "incident_flux: 'auto' -> 50000.0" in error and "seed: 0 -> 3" in error and "--overwrite" in error
    before = (out / "volumes" / "s" / "fbp" / "dose_025.nii.gz").read_bytes()
    assert lowdose(small_study(small, out, "--incident-flux", "5e4", "--seed", "3", "--overwrite")) == 0
    assert "tasks: 4 run, 0 already done" in capsys.readouterr().out
    assert (out / "volumes" / "s" / "fbp" / "dose_025.nii.gz").read_bytes() != before
    assert json.loads(layout.manifest.read_text())["settings"]["incident_flux"] == 5e4


def test_failed_case_and_failed_model_go_to_failures_csv_and_the_rest_goes_on(small, tmp_path, capsys):
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "good.nii.gz").write_bytes(small.read_bytes())
    (cases / "broken.nii.gz").write_text("not an image")
    out = tmp_path / "study"
    arguments = small_study(cases, out, "--model", "builtin", "--model", f"nnunet:{tmp_path / 'no_model'}")
    assert lowdose(arguments) == 1
    assert "task(s) failed; see" in capsys.readouterr().out
    failures = pd.read_csv(out / "failures.csv")
    assert set(zip(failures["case"], failures["task"])) == {("broken", "input"), ("good", "segment")}
    assert failures.loc[failures["case"] == "broken", "error"].str.contains("cannot be read").all()
    assert failures.loc[failures["task"] == "segment", "model"].str.startswith("nnunet:").all()
    results = pd.read_csv(out / "results.csv")
    assert set(results["case"]) == {"good"} and set(results["model"]) == {"builtin"}


def test_realizations_in_a_memory_bounded_pool_give_independent_noise_and_an_attack_rate(small, tmp_path):
    out = tmp_path / "study"
    request = StudyRequest(find_cases([small]), [0.25], realizations=3, failure_dice=0.95)
    outcome = run_study(request, out, StudySettings(geometry="fast"), executor=ProcessPool(2, memory_bytes=1))
    assert outcome.exit_code == 0 and outcome.counts["done"] == 3 + 4 + 3
    spans = sorted((o.started, o.started + o.seconds) for o in outcome.outcomes)
    assert all(later[0] >= earlier[1] - 0.01 for earlier, later in zip(spans, spans[1:]))  # one task at a time
    volumes = out / "volumes" / "s" / "fbp"
    assert sorted(p.name for p in volumes.glob("*.nii.gz")) == [
        "dose_025.nii.gz", "dose_025_r1.nii.gz", "dose_025_r2.nii.gz", "dose_100.nii.gz"]
    arrays = [sitk.GetArrayFromImage(sitk.ReadImage(str(volumes / f"dose_025{s}.nii.gz"))) for s in ("", "_r1", "_r2")]
    noise = [a - arrays[0] for a in arrays[1:]]
    assert all(np.std(n) > 10 for n in noise) and abs(np.corrcoef(noise[0].ravel(), noise[1].ravel())[0, 1]) < 0.6
    results = pd.read_csv(out / "results.csv")
    robustness = results[(results["reference"] == "full_dose") & (results["status"] != "absent_in_both")]
    assert sorted(robustness["realization"].unique()) == [0, 1, 2]
    spread = pd.read_csv(out / "realizations.csv")
    assert (spread["realizations"] == 3).all() and (spread["failure_dice"] == 0.95).all()
    expected = robustness.groupby("name")["dice"].apply(lambda dice: np.mean(dice < 0.95))
    assert np.allclose(spread.set_index("name").loc[expected.index, "attack_rate"], expected)
    assert np.allclose(spread.set_index("name").loc[expected.index, "dice_sd"],
                       robustness.groupby("name")["dice"].std())
    assert "Attack rate across noise realizations" in (out / "report.html").read_text()


def test_demo_command_runs_the_sample_study(monkeypatch, tmp_path):
    from LowDoseRobustnessLib.cli import demo, study
    from LowDoseRobustnessLib.contract import SAMPLE_CT, SAMPLE_LABELS

    calls = []
    monkeypatch.setattr(study, "run_and_summarize", lambda *arguments: calls.append(arguments) or 0)
    assert lowdose(["demo", "-o", str(tmp_path / "demo")]) == 0
    (request, settings, output, overwrite, workers), = calls
    assert [(c.ct, c.ground_truth) for c in request.cases] == [(SAMPLE_CT, SAMPLE_LABELS)]
    assert request.doses == (0.8, 0.6, 0.4, 0.2) and request.reconstructions == ("fbp", "iterative", "cnn")
    assert request.models == ("builtin",) and settings.geometry == "clinical"
    assert output == str(tmp_path / "demo") and not overwrite and workers == demo.DEMO_WORKERS == 2
    assert demo.DEMO_OUTPUT == "demo_output"
