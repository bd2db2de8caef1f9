"""The study's cases, task graph, keys, memory-bounded pool and cancellation (small and fast)."""
from __future__ import annotations

import shutil

import pytest

from LowDoseRobustnessLib.contract import StudyLayout
from LowDoseRobustnessLib.errors import Cancelled, InputError
from LowDoseRobustnessLib.study.cases import Case, find_cases
from LowDoseRobustnessLib.study.engine import run_study
from LowDoseRobustnessLib.study.folder import open_study_folder
from LowDoseRobustnessLib.study.identity import FileHashes
from LowDoseRobustnessLib.study.plan import StudyRequest, StudySettings, noise_seed, plan_study
from ct_crops import write_crop
from segmenter_fixtures import TINY_MONAI_UNET


@pytest.fixture
def small(tmp_path):
    return write_crop(tmp_path / "s.nii.gz", 12)


def test_cases_from_files_folders_dicom_and_a_manifest(example_data, tmp_path):
    folder = (tmp_path / "cases").resolve()
    folder.mkdir()
    for name in ("p1.nii.gz", "p1_ground_truth.nii.gz", "p2.nrrd", "notes.txt"):
        (folder / name).write_bytes(b"")
    shutil.copytree(example_data / "example_ct_dicom", folder / "p3")
    (folder / "empty").mkdir()
    cases = find_cases([folder])
    assert [(c.name, c.ct.name, c.ground_truth and c.ground_truth.name) for c in cases] == [
        ("p1", "p1.nii.gz", "p1_ground_truth.nii.gz"), ("p2", "p2.nrrd", None), ("p3", "p3", None)]
    (tmp_path / "sub").mkdir()
    manifest = tmp_path / "sub" / "cases.csv"
    manifest.write_text("case,ct,ground_truth,contrast\nx,../cases/p2.nrrd,,yes\ny,../cases/p1.nii.gz,"
                        "../cases/p1_ground_truth.nii.gz,no\nz,../cases/p3,,\n")
    assert find_cases([manifest]) == [Case("x", folder / "p2.nrrd", None, True),
                                      Case("y", folder / "p1.nii.gz", folder / "p1_ground_truth.nii.gz", False),
                                      Case("z", folder / "p3", None, None)]
    assert find_cases([folder / "p2.nrrd"], [folder / "p1.nii.gz"], "named") == [
        Case("named", folder / "p2.nrrd", folder / "p1.nii.gz")]
    refusals = {"several cases are named p2": ([folder / "p2.nrrd", folder / "p2.nrrd"],),
                "2 --ground-truth for 3 cases": ([folder], [folder / "a", folder / "b"]),
                "case input not found": ([tmp_path / "missing.nii.gz"],),
                "no cases found": ([folder / "empty"],)}
    for message, arguments in refusals.items():
        with pytest.raises(InputError, match=message):
            find_cases(*arguments)
    manifest.write_text("case,ct,weight\nx,a.nii.gz,3\n")
    with pytest.raises(InputError, match="unknown columns weight"):
        find_cases([manifest])


def test_graph_keys_seeds_and_gpu_annotations(small, tmp_path):
    layout = open_study_folder(tmp_path / "study")
    hashes = FileHashes()
    inputs = {"s": {"ct_sha256": hashes(small), "ground_truth_sha256": None}}
    request = StudyRequest(find_cases([small]), [0.5, 0.25], ["fbp"], ["builtin", f"monai:{TINY_MONAI_UNET}"],
                           realizations=2, segmenter_options={"device": "cuda"})
    tasks = plan_study(request, StudySettings(backend="tigre"), layout, inputs, hashes)
    kinds = [t.kind for t in tasks]
    assert kinds.count("simulate") == 2 and kinds.count("segment") == 2 * 5 and kinds.count("compare") == 2 * 4
    simulations = [t for t in tasks if t.kind == "simulate"]
    assert [len(t.outputs) for t in simulations] == [3, 2]  # realization 0 holds the 100 % reference
    assert all(t.resources == {"GPU": 1} for t in simulations)
    segmenters = {t.model: t for t in tasks if t.kind == "segment"}
    assert segmenters["builtin"].resources == {} and segmenters["builtin"].options == {}  # no device option
    assert segmenters[f"monai:{TINY_MONAI_UNET}"].resources == {"GPU": 1}
    keys = [a.key for t in tasks for a in t.outputs]
    assert len(set(keys)) == len(keys)
    seeds = {t.options["seed"] for t in simulations}
    assert seeds == {noise_seed(0, "s", 0), noise_seed(0, "s", 1)} and len(seeds) == 2
    again = plan_study(request, StudySettings(backend="tigre"), layout, inputs, FileHashes(hashes.known))
    assert [a.key for t in again for a in t.outputs] == keys
    brighter = plan_study(request, StudySettings(backend="tigre", incident_flux=5e4), layout, inputs, hashes)
    assert not set(a.key for t in brighter for a in t.outputs) & set(keys)
    for field, value in (("doses", [1.5]), ("realizations", 0), ("reconstructions", ["sirt"]), ("models", [])):
        with pytest.raises(InputError):
            StudyRequest(find_cases([small]), **{"doses": [0.5], field: value})
    with pytest.raises(InputError, match="noise mode"):
        StudySettings(noise="pink")


def test_cancel_check_stops_between_tasks_and_leaves_finished_artifacts(small, tmp_path):
    messages = []
    request = StudyRequest(find_cases([small]), [0.25], ["fbp"], ["builtin"])
    with pytest.raises(Cancelled):  # the user presses Cancel once the first mask is done
        run_study(request, tmp_path / "study", StudySettings(geometry="fast"),
                  progress=lambda fraction, message: messages.append(message),
                  cancel=lambda: any("segmented" in m for m in messages), log=lambda message: None)
    layout = StudyLayout(tmp_path / "study")
    assert not layout.lock.exists() and not layout.results_csv.exists()
    assert len(list((tmp_path / "study").rglob("*.manifest.json"))) == 2 + 1  # two volumes, one mask
    outcome = run_study(request, tmp_path / "study", StudySettings(geometry="fast"), log=lambda message: None)
    assert (outcome.counts["done"], outcome.counts["skipped"]) == (2, 2)
