"""The study engine on a real multi-case study: on a Dask cluster, interrupted by SIGTERM and resumed, extended.

3 cases (4-slice crops of the example CT) x 3 doses x 2 reconstructions (fbp, cnn) x 2 models
(built-in, tiny MONAI U-Net), fast geometry, one torch thread per task. The uninterrupted run on a
Dask LocalCluster is the reference that the in-process run, killed halfway and resumed, must
reproduce byte for byte.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from LowDoseRobustnessLib.contract import ARTIFACT_MANIFEST_SUFFIX, StudyLayout, parse_progress
from LowDoseRobustnessLib.io.atomic import PARTIAL_PREFIX
from LowDoseRobustnessLib.study.cases import find_cases
from LowDoseRobustnessLib.study.engine import run_study
from LowDoseRobustnessLib.study.plan import StudyRequest, StudySettings
from segmenter_fixtures import TINY_MONAI_UNET
from ct_crops import write_crop
from shared_data import REPOSITORY

DOSES = ("0.25", "0.5", "0.75")
RECONSTRUCTIONS = ("fbp", "cnn")
MODELS = ("builtin", f"monai:{TINY_MONAI_UNET}")
CROPS = {"a": 8, "b": 13, "c": 18}
"""Case -> first of its 4 slices (the central 64 x 64 voxels in-plane)."""
TASKS = 3 * len(RECONSTRUCTIONS) * (1 + len(MODELS) * ((len(DOSES) + 1) + len(DOSES)))
"""Per case and reconstruction: one simulation, per model 4 segmentations and 3 comparisons with full dose."""


def study_arguments(cases: Path, output: Path, *extra: str) -> list[str]:
    arguments = ["study", str(cases), "--geometry", "fast", "--threads", "1", "-o", str(output), *extra]
    for dose in DOSES:
        arguments += ["--dose", dose]
    for method in RECONSTRUCTIONS:
        arguments += ["--recon", method]
    for model in MODELS:
        arguments += ["--model", model]
    return arguments


def lowdose_process(arguments: list[str], **options) -> subprocess.Popen:
    """The real ``lowdose`` CLI in its own process (this checkout's code)."""
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(REPOSITORY / "LowDoseRobustness"), str(REPOSITORY / "SyntheticCT"), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-c", "import sys; from LowDoseRobustnessLib.cli import main; "
                             "sys.exit(main())", *arguments], env=environment, text=True, **options)


def manifests(root: Path, cells_only: bool = False) -> dict[Path, tuple[int, str]]:
    """Every artifact manifest below ``root`` (or only those of volumes, masks and comparisons), with its
    modification time and content."""
    found = root.rglob(f"*{ARTIFACT_MANIFEST_SUFFIX}")
    return {p: (p.stat().st_mtime_ns, p.read_text()) for p in found if not cells_only or p.parent != root}


@pytest.fixture(scope="module")
def cases(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("cases")
    for name, first in CROPS.items():
        write_crop(folder / f"{name}.nii.gz", first)
    return folder


@pytest.fixture(scope="module")
def reference(cases, tmp_path_factory) -> Path:
    """The uninterrupted study on a Dask LocalCluster of two workers."""
    pytest.importorskip("dask.distributed")
    from LowDoseRobustnessLib.cli import main as lowdose

    output = tmp_path_factory.mktemp("reference") / "study"
    assert lowdose(study_arguments(cases, output, "--scheduler", "local:2")) == 0
    return output


def test_dask_local_cluster_runs_the_whole_graph(reference):
    volumes = sorted(p.relative_to(reference) for p in (reference / "volumes").rglob("*.nii.gz"))
    assert len(volumes) == 3 * 2 * 4 and len(manifests(reference)) == TASKS + 3 * 2 * 3 + 2
    results = (reference / "results.csv").read_text().splitlines()
    assert len({tuple(line.split(",")[:5]) for line in results[1:]}) == 3 * 3 * 2 * 2


def test_sigterm_halfway_then_resume_in_process_recomputes_nothing_and_equals_dask(cases, reference, tmp_path):
    output = tmp_path / "study"
    process = lowdose_process(study_arguments(cases, output), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
    fractions, lines = [], []
    for line in process.stderr:
        lines.append(line.rstrip())
        progress = parse_progress(line)
        if progress is not None:
            fractions.append(progress[0])
            if progress[0] >= 0.5:
                process.send_signal(signal.SIGTERM)
                break
    lines += process.stderr.read().splitlines()
    assert process.wait(timeout=60) != 0
    assert "interrupted" in lines[-1] and "SIGTERM" in lines[-1] and "Traceback" not in "\n".join(lines)
    assert fractions == sorted(fractions) and 0.5 <= fractions[-1] < 1.0
    layout = StudyLayout(output)
    assert not layout.lock.exists() and not list(output.rglob(f"{PARTIAL_PREFIX}*"))
    assert not layout.results_csv.exists()
    finished = manifests(output)
    assert len(finished) >= TASKS // 2 - 6  # a simulation commits several volumes

    outcome = run_study(StudyRequest(find_cases([cases]), [float(d) for d in DOSES], RECONSTRUCTIONS, MODELS),
                        output, StudySettings(geometry="fast"), threads=1)
    assert outcome.exit_code == 0
    assert outcome.counts["done"] + outcome.counts["skipped"] == TASKS
    print(f"\nSIGTERM at {fractions[-1]:.0%}; second pass ran {outcome.counts['done']} of {TASKS} tasks")
    assert 0 < outcome.counts["done"] <= TASKS - TASKS // 2 + 6
    after = manifests(output)
    assert all(after[path] == state for path, state in finished.items())  # nothing finished was rewritten
    for name in ("results.csv", "realizations.csv"):
        assert (output / name).read_bytes() == (reference / name).read_bytes()
    volumes = sorted(p.relative_to(output) for p in (output / "volumes").rglob("*.nii.gz"))
    assert all((output / p).read_bytes() == (reference / p).read_bytes() for p in volumes)


def test_rerun_skips_everything_and_extension_computes_only_new_cells(cases, reference, tmp_path, capsys):
    from LowDoseRobustnessLib.cli import main as lowdose

    output = tmp_path / "study"
    shutil.copytree(reference, output)
    before = manifests(output, cells_only=True)
    assert lowdose(study_arguments(cases, output)) == 0
    assert f"tasks: 0 run, {TASKS} already done, 0 failed" in capsys.readouterr().out
    assert manifests(output, cells_only=True) == before
    arguments = ["study", str(cases / "a.nii.gz"), "--geometry", "fast", "--dose", "0.25", "--dose", "0.1",
                 "--recon", "fbp", "--model", "builtin", "-o", str(output)]
    assert lowdose(arguments) == 0
    assert "tasks: 3 run, 3 already done" in capsys.readouterr().out  # the 10 % volume, its mask, its comparison
    after = manifests(output, cells_only=True)
    assert {p: after[p] for p in before} == before and len(after) == len(before) + 3
    results = (output / "results.csv").read_text().splitlines()
    assert {line.split(",")[1] for line in results[1:]} == {"0.25", "0.1"}


def test_progress_lines_and_summary(reference):
    layout = StudyLayout(reference)
    manifest = json.loads(layout.manifest.read_text())
    assert manifest["settings"]["geometry"] == "fast" and manifest["request"]["cases"] == ["a", "b", "c"]
    summary = (reference / "summary.csv").read_text()
    assert "full_dose" in summary
    page = layout.report_html.read_text()
    assert page.count("full dose beside the lowest dose") == 2 * 3  # per case and model
    assert (reference / "failures.csv").read_text().strip() == ",".join(
        ("case", "task", "dose", "reconstruction", "model", "realization", "error"))
