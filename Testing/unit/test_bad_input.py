"""The bad-input catalogue (issue #11) through the real ``lowdose`` command line.

Every case runs the real CLI in-process (``SyntheticCTLib.cli.main``: lowdose with the
synth commands) in a folder of its own and asserts: the exit code, one line naming the
problem (``lowdose CMD: error: ...``) as the last line of stderr, no traceback, and that
nothing was written or changed (the folder and the shared inputs are byte-identical before
and after). Warning cases (implausible but legal requests) must succeed and say so in one
line. Interrupts, the memory limit and ``--help`` run as subprocesses. The last test prints
the figures: ``pytest -s Testing/unit/test_bad_input.py``.
"""
from __future__ import annotations

import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import pytest

from LowDoseRobustnessLib.contract import COMMANDS
from LowDoseRobustnessLib.errors import Interrupted
from LowDoseRobustnessLib.io.atomic import PARTIAL_PREFIX, atomic_group, atomic_output
from LowDoseRobustnessLib.io.labels import totalsegmentator_names, write_label_names
from LowDoseRobustnessLib.io.volumes import read_volume, write_volume
from LowDoseRobustnessLib.volume import Volume
from SyntheticCTLib.cli import main
from SyntheticCTLib.contract import COMMANDS as SYNTH_COMMANDS

from bad_inputs import corrupted_copy, header_only_nifti, snapshot, truncated_copy, with_voxel_sizes
from shared_data import EXAMPLES, REPOSITORY

pytestmark = pytest.mark.skipif(not (EXAMPLES / "example_ct_sm.nii.gz").exists(), reason="shared example data missing")
SLICES = slice(12, 16)
PYTHONPATH = os.pathsep.join(str(REPOSITORY / p) for p in ("LowDoseRobustness", "SyntheticCT"))
OUTCOMES: dict[str, str] = {}
"""Case id -> "clean" or what failed, for the figures printed at the end."""


@dataclass(frozen=True)
class Case:
    """``lowdose ARGV`` must end with ``code`` and a line holding ``message``; ``{in}``/``{out}`` are folders."""

    id: str
    argv: str
    message: str
    code: int = 2
    setup: Optional[Callable[[Path], None]] = None
    writes: tuple[str, ...] = field(default=())
    """Files a successful (warning) case may add to its folder."""


def _existing(*names: str) -> Callable[[Path], None]:
    def setup(folder: Path) -> None:
        for name in names:
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_text(f"the user's own {name}\n")
    return setup


def _file_named(name: str) -> Callable[[Path], None]:
    return lambda folder: (folder / name).write_text("a file, not a folder\n")


CT, SEG, FAST = "{in}/ct.nii.gz", "{in}/seg.nii.gz", "{in}/seg_fast.nii.gz"
CATALOGUE = [
    # --- simulate ------------------------------------------------------------------------------------------
    Case("simulate-missing-input", "simulate {in}/nothing.nii.gz --dose 0.2 -o {out}/low.nii.gz", "input not found"),
    Case("simulate-truncated-gz", "simulate {in}/truncated.nii.gz --dose 0.2 -o {out}/low.nii.gz", "truncated"),
    Case("simulate-corrupt-gz", "simulate {in}/corrupt.nii.gz --dose 0.2 -o {out}/low.nii.gz", "CRC check failed"),
    Case("simulate-truncated-nii", "simulate {in}/truncated.nii --dose 0.2 -o {out}/low.nii.gz", "bytes its header"),
    Case("simulate-2d-image", "simulate {in}/image2d.nii.gz --dose 0.2 -o {out}/low.nii.gz", "2D image"),
    Case("simulate-zero-spacing", "simulate {in}/zero_spacing.nii --dose 0.2 -o {out}/low.nii.gz", "voxel sizes of 0"),
    Case("simulate-negative-spacing", "simulate {in}/negative_spacing.nii --dose 0.2 -o {out}/low.nii.gz",
         "must be positive"),
    Case("simulate-mr-like", "simulate {in}/mr.nii.gz --dose 0.2 -o {out}/low.nii.gz", "Is this an MR image"),
    Case("simulate-uint8", "simulate {in}/uint8.nii.gz --dose 0.2 -o {out}/low.nii.gz", "8-bit values"),
    Case("simulate-label-map-as-ct", f"simulate {SEG} --dose 0.2 -o {{out}}/low.nii.gz", "looks like a label map"),
    Case("simulate-nan", "simulate {in}/nan.nii.gz --dose 0.2 -o {out}/low.nii.gz", "--fix-nonfinite"),
    Case("simulate-tiny-slices", "simulate {in}/tiny.nii.gz --dose 0.2 -o {out}/low.nii.gz", "at least 8 x 8"),
    Case("simulate-dose-zero", f"simulate {CT} --dose 0 -o {{out}}/low.nii.gz", "--dose must be"),
    Case("simulate-dose-above-one", f"simulate {CT} --dose 1.5 -o {{out}}/low.nii.gz", "--dose must be"),
    Case("simulate-seed-negative", f"simulate {CT} --dose 0.2 --seed -1 -o {{out}}/low.nii.gz", "--seed must be"),
    Case("simulate-flux-negative", f"simulate {CT} --dose 0.2 --incident-flux -5 -o {{out}}/low.nii.gz",
         "--incident-flux must be"),
    Case("simulate-unknown-format", f"simulate {CT} --dose 0.2 -o {{out}}/out.xyz", "unknown format"),
    Case("simulate-same-output-twice", f"simulate {CT} --dose 0.2 -o {{out}}/x.nii.gz --reference {{out}}/x.nii.gz",
         "both name"),
    Case("simulate-output-is-input", f"simulate {CT} --dose 0.2 -o {CT} --overwrite", "is also an input"),
    Case("simulate-existing-output", f"simulate {CT} --dose 0.2 -o {{out}}/low.nii.gz", "already exists",
         setup=_existing("low.nii.gz")),
    Case("simulate-existing-reference", f"simulate {CT} --dose 0.2 -o {{out}}/low.nii.gz --reference {{out}}/full.nii.gz",
         "full.nii.gz already exists", setup=_existing("full.nii.gz")),
    Case("simulate-existing-dose-in-folder", f"simulate {CT} --dose 0.2 --dose 0.4 -o {{out}}/doses",
         "dose_040.nii.gz already exists", setup=_existing("doses/dose_040.nii.gz")),
    Case("simulate-doses-into-a-file-name", f"simulate {CT} --dose 0.2 --dose 0.4 -o {{out}}/low.nii.gz",
         "a folder is needed here"),
    Case("simulate-output-below-a-file", f"simulate {CT} --dose 0.2 -o {{out}}/file/low.nii.gz", "is a file",
         setup=_file_named("file")),
    Case("simulate-unwritable-folder", f"simulate {CT} --dose 0.2 -o {{unwritable}}/low.nii.gz", "cannot write"),
    Case("simulate-recon-unknown", f"simulate {CT} --dose 0.2 --recon sart -o {{out}}/low.nii.gz", "invalid choice"),
    Case("simulate-bad-roi", f"simulate {CT} --dose 0.2 --calibrate-roi 1:2 -o {{out}}/low.nii.gz", "z0:z1,y0:y1"),
    Case("simulate-dicom-unreadable-file", "simulate {in}/dicom_truncated --dose 0.2 -o {out}/low.nii.gz",
         "cannot be read (truncated or corrupt?)"),
    Case("simulate-dicom-missing-slice", "simulate {in}/dicom_gap --dose 0.2 -o {out}/low.nii.gz", "not evenly spaced"),
    Case("simulate-empty-folder", "simulate {in}/empty_folder --dose 0.2 -o {out}/low.nii.gz", "no DICOM series"),
    Case("simulate-missing-arguments", "simulate", "the following arguments are required"),
    # --- segment -------------------------------------------------------------------------------------------
    Case("segment-existing-sidecar", f"segment {CT} -o {{out}}/seg.nii.gz", "seg.labels.json already exists",
         setup=_existing("seg.labels.json")),
    Case("segment-mr-like", "segment {in}/mr.nii.gz -o {out}/seg.nii.gz", "no air found"),
    Case("segment-label-map-as-ct", f"segment {SEG} -o {{out}}/seg.nii.gz", "looks like a label map"),
    Case("segment-nan", "segment {in}/nan.nii.gz -o {out}/seg.nii.gz", "NaN or infinite"),
    Case("segment-monai-invalid-json", f"segment {CT} --model monai:{{in}}/broken.json -o {{out}}/seg.nii.gz",
         "is not valid JSON"),
    Case("segment-unknown-model", f"segment {CT} --model frobnet -o {{out}}/seg.nii.gz", "unknown segmenter"),
    Case("segment-unknown-format", f"segment {CT} -o {{out}}/seg.xyz", "unknown format"),
    # --- compare -------------------------------------------------------------------------------------------
    Case("compare-both-outputs-checked", f"compare {SEG} {FAST} -o {{out}}/m.csv --disagreement {{out}}/d.nii.gz",
         "d.nii.gz already exists", setup=_existing("d.nii.gz")),
    Case("compare-existing-disagreement-sidecar",
         f"compare {SEG} {FAST} -o {{out}}/m.csv --disagreement {{out}}/d.nii.gz", "d.labels.json already exists",
         setup=_existing("d.labels.json")),
    Case("compare-unknown-format", f"compare {SEG} {FAST} -o {{out}}/m.txt", "unknown format"),
    Case("compare-ct-as-label-map", f"compare {CT} {SEG} -o {{out}}/m.csv", "negative values"),
    Case("compare-fractional-labels", f"compare {SEG} {{in}}/fraction_seg.nii.gz -o {{out}}/m.csv", "fractional"),
    Case("compare-other-grid", f"compare {SEG} {{in}}/moved_seg.nii.gz -o {{out}}/m.csv", "different grids"),
    Case("compare-truncated", f"compare {SEG} {{in}}/truncated_seg.nii.gz -o {{out}}/m.csv", "truncated"),
    Case("compare-broken-sidecar", f"compare {{in}}/broken_sidecar/seg.nii.gz {FAST} -o {{out}}/m.csv",
         "is not valid JSON"),
    Case("compare-output-is-input", f"compare {SEG} {FAST} -o {{out}}/m.csv --disagreement {FAST} --overwrite",
         "is also an input"),
    # --- report --------------------------------------------------------------------------------------------
    Case("report-corrupt-parquet", "report {in}/results_corrupt -o {out}/report", "not a readable parquet table"),
    Case("report-non-numeric-column", "report {in}/results_text -o {out}/report", "column dice holds 'high'"),
    Case("report-missing-folder", "report {in}/no_results -o {out}/report", "results folder not found"),
    Case("report-no-tables", "report {in}/empty_folder -o {out}/report", "no results tables"),
    Case("report-existing-report", "report {in}/results_good -o {out}", "report.html already exists",
         setup=_existing("report.html")),
    Case("report-existing-summary", "report {in}/results_good -o {out}", "summary.csv already exists",
         setup=_existing("summary.csv")),
    # --- study ---------------------------------------------------------------------------------------------
    Case("study-output-is-a-file", f"study {CT} --dose 0.5 --geometry fast -o {{out}}/study", "is a file",
         setup=_file_named("study")),
    Case("study-foreign-folder", f"study {CT} --dose 0.5 --geometry fast -o {{out}}", "holds no lowdose study",
         setup=_existing("summary.csv", "volumes/case/fbp/dose_050.nii.gz")),
    Case("study-ground-truth-other-grid", f"study {CT} --dose 0.5 --geometry fast --ground-truth {{in}}/moved_seg.nii.gz"
         " -o {out}/study", "not on the voxel grid"),
    Case("study-seed-negative", f"study {CT} --dose 0.5 --seed -1 -o {{out}}/study", "--seed must be"),
    Case("study-mr-like", "study {in}/mr.nii.gz --dose 0.5 -o {out}/study", "no air found"),
    Case("study-unwritable-folder", f"study {CT} --dose 0.5 -o {{unwritable}}/study", "cannot write"),
    # --- synth ---------------------------------------------------------------------------------------------
    Case("synth-names-invalid-json", f"synth {SEG} --names {{in}}/broken.json --count 1 -o {{out}}/ds",
         "is not valid JSON"),
    Case("synth-ct-as-label-map", f"synth {CT} --count 1 -o {{out}}/ds", "negative values"),
    Case("synth-existing-dataset", f"synth {SEG} --count 1 -o {{out}}", "(not empty) already exists",
         setup=_existing("dataset.json")),
    Case("synth-count-zero", f"synth {SEG} --count 0 -o {{out}}/ds", "--count must be"),
    Case("synth-group-not-present", f"synth {SEG} --labels brain --count 1 -o {{out}}/ds", "matches no label"),
    Case("synth-broken-statistics", f"synth {SEG} --statistics {{in}}/hu_bad.csv --count 1 -o {{out}}/ds",
         "not a HU statistics table"),
    Case("synth-ct-other-grid", f"synth {SEG} --ct {{in}}/moved_ct.nii.gz --count 1 -o {{out}}/ds", "one voxel grid"),
    # --- synth-stats ---------------------------------------------------------------------------------------
    Case("synth-stats-swapped", f"synth-stats {SEG} {CT} -o {{out}}/hu.csv", "looks like a label map"),
    Case("synth-stats-existing-quantiles", f"synth-stats {CT} {SEG} -o {{out}}/hu.csv",
         "hu_body_quantiles.csv already exists", setup=_existing("hu_body_quantiles.csv")),
    Case("synth-stats-other-grid", f"synth-stats {CT} {{in}}/moved_seg.nii.gz -o {{out}}/hu.csv",
         "not on the voxel grid"),
    Case("synth-stats-uint8", f"synth-stats {{in}}/uint8.nii.gz {SEG} -o {{out}}/hu.csv", "8-bit values"),
    # --- the command line itself ---------------------------------------------------------------------------
    Case("unknown-command", "frobnicate", "invalid choice"),
    # --- implausible but legal: done, with one warning line ------------------------------------------------
    Case("warn-compare-label-absent-in-both", f"compare {SEG} {FAST} -o {{out}}/m.csv --labels 999 5",
         "999 are in neither map", code=0, writes=("m.csv",)),
    Case("warn-simulate-dose-below-1-percent", f"simulate {CT} --dose 0.005 --geometry fast -o {{out}}/low.nii.gz",
         "mostly noise", code=0, writes=("low.nii.gz",)),
    Case("warn-simulate-fix-nonfinite", "simulate {in}/nan.nii.gz --dose 0.5 --geometry fast --fix-nonfinite "
         "-o {out}/low.nii.gz", "replaced 64 NaN or infinite voxels", code=0, writes=("low.nii.gz",)),
]


# --- the inputs every case reads (never changed by any case) ----------------------------------------------------
@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("inputs")
    ct = _crop("example_ct_sm.nii.gz")
    seg = _crop("example_seg.nii.gz")
    write_volume(ct, folder / "ct.nii.gz")
    write_volume(seg, folder / "seg.nii.gz")
    names = totalsegmentator_names()
    write_label_names(folder / "seg.nii.gz", {v: names[v] for v in np.unique(seg.array) if v > 0})
    write_volume(_crop("example_seg_fast.nii.gz"), folder / "seg_fast.nii.gz")
    truncated_copy(folder / "ct.nii.gz", folder / "truncated.nii.gz")
    corrupted_copy(folder / "ct.nii.gz", folder / "corrupt.nii.gz")
    write_volume(ct, folder / "whole.nii")
    truncated_copy(folder / "whole.nii", folder / "truncated.nii", 0.8)
    truncated_copy(folder / "seg.nii.gz", folder / "truncated_seg.nii.gz")
    import SimpleITK as sitk
    sitk.WriteImage(sitk.GetImageFromArray(ct.array[0]), str(folder / "image2d.nii.gz"))
    with_voxel_sizes(ct.array, folder / "zero_spacing.nii", (0.0, 0.0, 0.0))
    with_voxel_sizes(ct.array, folder / "negative_spacing.nii", (3.0, -3.0, 3.0))
    write_volume(ct.with_array(np.clip(ct.array + 1024, 0, None).astype(np.float32)), folder / "mr.nii.gz")
    write_volume(ct.with_array(np.clip((ct.array + 160) / 400 * 255, 0, 255).astype(np.uint8)), folder / "uint8.nii.gz")
    with_nan = ct.array.astype(np.float32)
    with_nan[0, :8, :8] = np.nan
    write_volume(ct.with_array(with_nan), folder / "nan.nii.gz")
    write_volume(Volume(ct.array[:, :4, :4], ct.spacing, ct.origin, ct.direction), folder / "tiny.nii.gz")
    write_volume(seg.with_array(np.where(seg.array > 0, 0.5, 0.0).astype(np.float32)), folder / "fraction_seg.nii.gz")
    moved = Volume(seg.array, seg.spacing, np.add(seg.origin, 6.0), seg.direction)
    write_volume(moved, folder / "moved_seg.nii.gz")
    write_volume(Volume(ct.array, ct.spacing, np.add(ct.origin, 6.0), ct.direction), folder / "moved_ct.nii.gz")
    (folder / "broken.json").write_text('{"1": "liver",, }')
    (folder / "broken_sidecar").mkdir()
    shutil.copy(folder / "seg.nii.gz", folder / "broken_sidecar" / "seg.nii.gz")
    (folder / "broken_sidecar" / "seg.labels.json").write_text("{not json")
    (folder / "hu_bad.csv").write_text("label,name\n1,liver\n")
    (folder / "hu_bad_body_quantiles.csv").write_text("probability,hu\n0.5,abc\n")
    (folder / "empty_folder").mkdir()
    _dicom_copies(folder)
    _results_folders(folder)
    header_only_nifti(folder / "huge.nii", (2000, 512, 512))
    return folder


def _crop(name: str) -> Volume:
    volume = read_volume(EXAMPLES / name)
    return Volume(volume.array[SLICES], volume.spacing, volume.origin, volume.direction)


def _dicom_copies(folder: Path) -> None:
    for name in ("dicom_truncated", "dicom_gap"):
        shutil.copytree(EXAMPLES / "example_ct_dicom", folder / name)
        for path in (folder / name).iterdir():
            path.chmod(0o644)
    fifth = sorted((folder / "dicom_truncated").iterdir())[4]
    truncated_copy(fifth, fifth, 0.02)  # cut in its header (GDCM needs ~10 s per scan of a file cut in its pixels)
    sorted((folder / "dicom_gap").iterdir())[6].unlink()


def _results_folders(folder: Path) -> None:
    good = folder / "results_good"
    good.mkdir()
    rows = "case,dose,label,name,status,dice,hd95_mm\nc1,0.2,5,liver,present_in_both,0.95,1.5\n"
    (good / "m.csv").write_text(rows)
    (folder / "results_text").mkdir()
    (folder / "results_text" / "m.csv").write_text(rows.replace("0.95", "high"))
    (folder / "results_corrupt").mkdir()
    (folder / "results_corrupt" / "m.parquet").write_bytes(b"PAR1" + bytes(range(256)) * 4)


@pytest.fixture(scope="module")
def unwritable(tmp_path_factory) -> Path:
    """A folder nobody may write in: read-only by mode, or /sys where the tests run as root (root ignores modes)."""
    if os.geteuid() == 0:
        return Path("/sys/lowdose-bad-input-test")
    folder = tmp_path_factory.mktemp("read_only")
    folder.chmod(0o555)
    return folder


@pytest.mark.parametrize("case", CATALOGUE, ids=[case.id for case in CATALOGUE])
def test_bad_input_is_refused_in_one_line_and_writes_nothing(case, inputs, unwritable, tmp_path, capsys):
    OUTCOMES[case.id] = "failed"
    if case.setup:
        case.setup(tmp_path)
    argv = [a.format(**{"in": inputs, "out": tmp_path, "unwritable": unwritable}) for a in case.argv.split()]
    before, inputs_before = snapshot(tmp_path), snapshot(inputs)
    try:
        code = main(argv)
    except SystemExit as exit:  # usage errors end in argparse's way
        code = exit.code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == case.code, err
    assert "Traceback" not in err and "internal error" not in err, err
    kind = "error:" if case.code else "warning:"
    flagged = [line for line in lines if kind in line]
    assert len(flagged) == 1 and case.message in flagged[0], err
    if case.code:
        assert lines[-1] == flagged[0], err  # the error is the last word
        assert snapshot(tmp_path) == before, "a refused command wrote or changed files"
    else:
        added = set(snapshot(tmp_path)) - set(before)
        assert added == set(case.writes) and all(before[p] == snapshot(tmp_path)[p] for p in before)
    assert snapshot(inputs) == inputs_before, "an input was changed"
    OUTCOMES[case.id] = "clean"


# --- interrupts, memory limit, start-up time: real processes --------------------------------------------------------
def _lowdose(*argv, **popen) -> subprocess.Popen:
    environment = {**os.environ, "PYTHONPATH": PYTHONPATH}
    return subprocess.Popen([sys.executable, "-c", "import sys; from SyntheticCTLib.cli import main; "
                             "sys.exit(main())", *map(str, argv)], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            text=True, env=environment, cwd=REPOSITORY, **popen)


def _interrupt_after(process: subprocess.Popen, marker: str, signal_number: int) -> tuple[int, list[str]]:
    """Send ``signal_number`` once stderr shows a line starting with ``marker``; the exit code and all stderr lines."""
    lines = []
    for line in process.stderr:
        lines.append(line.rstrip("\n"))
        if line.startswith(marker):
            process.send_signal(signal_number)
            break
    lines += process.stderr.read().splitlines()
    return process.wait(timeout=120), lines


INTERRUPTS = [
    ("simulate-SIGTERM", signal.SIGTERM, "[", "simulate {ct} --dose 0.2 --dose 0.5 --geometry fast -o {out}/doses "
                                              "--reference {out}/full.nii.gz"),
    ("study-SIGINT", signal.SIGINT, "[", "study {ct} --dose 0.5 --geometry fast -o {out}/study"),
    ("synth-SIGTERM", signal.SIGTERM, "case 1/", "synth {seg} --count 3 --geometry fast -o {out}/dataset"),
]


@pytest.mark.parametrize("name, signal_number, marker, argv", INTERRUPTS, ids=[i[0] for i in INTERRUPTS])
def test_interrupt_leaves_no_half_written_file(name, signal_number, marker, argv, inputs, tmp_path):
    OUTCOMES[name] = "failed"
    process = _lowdose(*argv.format(ct=inputs / "ct.nii.gz", seg=inputs / "seg.nii.gz", out=tmp_path).split())
    code, lines = _interrupt_after(process, marker, signal_number)
    assert code == 128 + signal_number, lines
    assert "no half-written file is left" in lines[-1] and "Traceback" not in "\n".join(lines), lines
    assert f"interrupted by {signal.Signals(signal_number).name}" in lines[-1]
    left = snapshot(tmp_path)
    assert not [p for p in left if Path(p).name.startswith(PARTIAL_PREFIX)], left
    if name == "study-SIGINT":  # the engine keeps finished artifacts; each must read back whole
        for path in left:
            if path.endswith(".nii.gz"):
                read_volume(tmp_path / path)
    else:
        assert left == {} and "nothing was written" in lines[-1], f"an interrupted {name} wrote {left}"
    OUTCOMES[name] = "clean"


def test_memory_estimate_refuses_before_allocating(inputs, tmp_path):
    """512 x 512 x 2000 voxels under a 6 GiB address-space limit: refused with the figures, not after 16 s."""
    OUTCOMES["simulate-memory-limit"] = "failed"
    limit = 6 * 2**30
    started = time.monotonic()
    process = _lowdose("simulate", inputs / "huge.nii", "--dose", "0.2", "-o", tmp_path / "low.nii.gz",
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit)))
    err = process.stderr.read()
    assert process.wait(timeout=60) == 2, err
    assert err.count("\n") == 1 and "needs about" in err and "GiB of memory" in err and "2000 x 512 x 512" in err, err
    assert time.monotonic() - started < 10 and snapshot(tmp_path) == {}
    OUTCOMES["simulate-memory-limit"] = "clean"


def test_a_bug_shows_its_traceback_and_says_it_is_one(inputs, tmp_path, capsys, monkeypatch):
    OUTCOMES["bug-reported-as-bug"] = "failed"
    import LowDoseRobustnessLib.evaluation.metrics as metrics

    monkeypatch.setattr(metrics, "compare_label_maps", lambda *a, **k: 1 / 0)
    assert main(["compare", str(inputs / "seg.nii.gz"), str(inputs / "seg_fast.nii.gz"), "-o",
                 str(tmp_path / "m.csv")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError" in err and "this is a bug in lowdose" in err.splitlines()[-1]
    assert snapshot(tmp_path) == {}
    OUTCOMES["bug-reported-as-bug"] = "clean"


def test_interrupt_inside_a_write_removes_every_temporary(tmp_path):
    """An interrupt while the second of two outputs is written: neither appears, no temporary remains."""
    OUTCOMES["interrupt-inside-write"] = "failed"
    first, second = tmp_path / "a.nii.gz", tmp_path / "sub" / "b.csv"
    with pytest.raises(Interrupted):
        with atomic_group([first, second]):
            with atomic_output(first) as temporary:
                temporary.write_bytes(b"finished")
            with atomic_output(second) as temporary:
                temporary.write_bytes(b"half")
                raise Interrupted(signal.SIGTERM, "SIGTERM")
    assert snapshot(tmp_path) == {} and not (tmp_path / "sub").exists()
    OUTCOMES["interrupt-inside-write"] = "clean"


def test_help_answers_without_heavy_imports():
    """``lowdose --help`` and every sub-command's ``--help`` well under a second, importing no numeric library."""
    OUTCOMES["help-fast"] = "failed"
    environment = {**os.environ, "PYTHONPATH": PYTHONPATH}
    probe = ("import sys; from SyntheticCTLib.cli import main\ntry: main(sys.argv[1:])\nexcept SystemExit: pass\n"
             "heavy = [m for m in ('numpy', 'torch', 'pandas', 'SimpleITK', 'scipy') if m in sys.modules]\n"
             "print('heavy modules:', *heavy, file=sys.stderr)")
    timings = {}
    for command in ["", *COMMANDS, *SYNTH_COMMANDS]:
        argv = [command, "--help"] if command else ["--help"]
        for _ in range(2):  # the faster of two runs: the machine may be busy
            started = time.monotonic()
            result = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True,
                                    env=environment, cwd=REPOSITORY, timeout=30)
            timings[command or "lowdose"] = min(timings.get(command or "lowdose", 99.0), time.monotonic() - started)
            assert result.returncode == 0 and "usage: lowdose" in result.stdout, result.stderr
            assert result.stderr.strip() == "heavy modules:", result.stderr
    print(f"\n--help wall time (s): {', '.join(f'{k} {v:.2f}' for k, v in timings.items())}")
    assert max(timings.values()) < 1.0, timings
    OUTCOMES["help-fast"] = "clean"


def test_catalogue_figures():
    """The figures of the issue's 'done when': how many cases, across which commands, all clean."""
    commands = {case.argv.split()[0] for case in CATALOGUE} & {*COMMANDS, *SYNTH_COMMANDS}
    refusals = sum(1 for case in CATALOGUE if case.code)
    clean = sum(1 for outcome in OUTCOMES.values() if outcome == "clean")
    print(f"\nbad-input catalogue: {len(CATALOGUE)} in-process cases ({refusals} refusals, "
          f"{len(CATALOGUE) - refusals} warnings) across {len(commands)} commands "
          f"({', '.join(sorted(commands))}), {len(OUTCOMES) - len(CATALOGUE)} process-level checks; "
          f"{clean} of {len(OUTCOMES)} clean")
    assert len(CATALOGUE) >= 40 and {"simulate", "segment", "compare", "report", "study", "synth",
                                     "synth-stats"} <= commands
    assert clean == len(OUTCOMES) == len(CATALOGUE) + len(INTERRUPTS) + 4, OUTCOMES
