"""A stand-in ``lowdose`` CLI for logic tests: toy ``simulate``, ``segment``, ``compare`` and ``synth`` that
write what the real commands write (file names, sidecars, CSV columns, map classes, nnU-Net layout), quickly.
The real simulator is tested through the real CLI in test_logic.py."""
import argparse
import csv
import json
import sys

import numpy as np

from LowDoseRobustnessLib.io.volumes import read_volume, write_volume
from LowDoseRobustnessLib.io.labels import read_label_names, write_label_names


def simulate(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("--dose", type=float, action="append", required=True)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--reference")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overwrite", action="store_true")
    args, _ = parser.parse_known_args(argv)
    volume = read_volume(args.input)
    outputs = {d: f"{args.output}/dose_{round(d * 100):03d}.nii.gz" for d in args.dose}
    outputs[1.0] = args.reference
    for index, (dose, path) in enumerate(sorted(outputs.items())):
        noise = np.random.default_rng([args.seed, index]).normal(0, 20 / np.sqrt(dose), volume.array.shape)
        write_volume(volume.with_array((volume.array + noise).astype(np.float32)), path, overwrite=args.overwrite)
        print(f"[{100 * (index + 1) // len(outputs):3d}%] reconstructed {dose:.0%} dose", file=sys.stderr)
    return 0


def segment(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("--model", required=True)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    if args.model == "broken":
        print("lowdose segment: error: model 'broken' has no weights", file=sys.stderr)
        return 2
    volume = read_volume(args.input)
    print("[ 50%] thresholding", file=sys.stderr)
    labels = np.where(volume.array > 200, 2, np.where(volume.array > -300, 1, 0)).astype(np.uint8)
    write_volume(volume.with_array(labels), args.output, overwrite=args.overwrite)
    write_label_names(args.output, {1: "soft_tissue", 2: "bone"}, overwrite=args.overwrite)
    return 0


def compare(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("reference")
    parser.add_argument("test")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--disagreement")
    parser.add_argument("--overwrite", action="store_true")
    for tag in ("--case", "--dose", "--model", "--reconstruction"):
        parser.add_argument(tag, default="")
    parser.add_argument("--reference-kind", choices=("full_dose", "ground_truth"), default="full_dose")
    args = parser.parse_args(argv)
    reference, test = read_volume(args.reference), read_volume(args.test)
    names = read_label_names(args.reference) or read_label_names(args.test)
    voxel_ml = float(np.prod(reference.spacing)) / 1000.0
    with open(args.output, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["case", "dose", "reference", "label", "name", "dice", "hd95_mm", "volume_ref_ml",
                         "volume_test_ml", "r_eff_mm"])
        for label, name in sorted(names.items()):
            a, b = reference.array == label, test.array == label
            dice = 2 * np.sum(a & b) / max(1, a.sum() + b.sum())
            writer.writerow([args.case, args.dose, args.reference_kind, label, name, f"{dice:.6f}", "1.5", a.sum() * voxel_ml, b.sum() * voxel_ml, "10.0"])
    if args.disagreement:
        classes = np.zeros(reference.array.shape, np.uint8)
        classes[(reference.array > 0) & (reference.array != test.array)] = 1
        classes[(test.array > 0) & (reference.array == 0)] = 2
        write_volume(reference.with_array(classes), args.disagreement, overwrite=args.overwrite)
    return 0


def synth(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("labels")
    parser.add_argument("--strategy")
    parser.add_argument("--count", type=int)
    parser.add_argument("--seed", type=int)
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--geometry")
    parser.add_argument("--incident-flux", type=float)
    parser.add_argument("--no-noise", action="store_true")
    parser.add_argument("--ct")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    labels = read_volume(args.labels)
    names = read_label_names(args.labels)
    for index in range(args.count):
        print(f"[{100 * (index + 1) // args.count:3d}%] case {index + 1}/{args.count}", file=sys.stderr)
        image = np.where(labels.array > 0, 40.0 + 10 * labels.array, -1000.0).astype(np.float32)
        write_volume(labels.with_array(image), f"{args.output}/imagesTr/synth_{index:03d}_0000.nii.gz", args.overwrite)
        write_volume(labels, f"{args.output}/labelsTr/synth_{index:03d}.nii.gz", args.overwrite)
    with open(f"{args.output}/dataset.json", "w") as handle:
        json.dump({"labels": {"background": 0, **{n: v for v, n in names.items()}}, "numTraining": args.count,
                   "args": vars(args)}, handle)
    return 0


def report(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("results_dir")
    parser.add_argument("-o", "--output-dir")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    from pathlib import Path

    tables = sorted(Path(args.results_dir).rglob("*.csv"))
    Path(args.output_dir).mkdir(parents=True, exist_ok=True)
    Path(args.output_dir, "report.html").write_text(f"<html>{len(tables)} tables</html>")
    return 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "segment":
        return segment(argv[1:])
    if argv and argv[0] == "compare":
        return compare(argv[1:])
    if argv and argv[0] == "synth":
        return synth(argv[1:])
    if argv and argv[0] == "simulate":
        return simulate(argv[1:])
    if argv and argv[0] == "report":
        return report(argv[1:])
    print(f"fake lowdose: unknown command {argv[:1]}", file=sys.stderr)
    return 2
