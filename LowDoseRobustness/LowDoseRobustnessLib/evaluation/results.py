"""The tidy results table of a dose-robustness study: schema, files, median +- MAD summary.

One row per case x dose x reconstruction x model x realization x reference x label; the
columns, with units and meaning, are defined in :data:`.contract.COLUMNS` (tags
:data:`.contract.TAG_COLUMNS`, metrics :data:`.contract.METRIC_COLUMNS` from :mod:`.metrics`,
optional ``contrast``).

A results folder is a study: every ``.csv`` / ``.parquet`` table below it that has the
metric columns (``label``, ``dice``, ``hd95_mm``) is read and stacked (other tables, such
as a report's summary, are passed over); missing tag columns get empty values. A folder
written by the study engine (``study.json`` and ``results.csv``) is read from its
``results.csv`` alone, which already gathers its per-comparison tables. Case
metadata may sit beside them in ``RESULTS_DIR/cases.csv`` with columns ``case`` and
``contrast``; it fills the ``contrast`` column of the results.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from LowDoseRobustnessLib.contract import (ABSENT_IN_BOTH, METRIC_COLUMNS, REFERENCES, REQUIRED_COLUMNS, TABLE_FORMATS,
                                           TAG_COLUMNS, TEXT_COLUMNS, StudyLayout)
from LowDoseRobustnessLib.errors import InputError
from LowDoseRobustnessLib.io.atomic import PARTIAL_PREFIX, atomic_output

SUMMARY_METRICS = ["dice", "hd95_mm", "hd95_vox"]
NUMERIC_COLUMNS = tuple(c for c in (*TAG_COLUMNS, *METRIC_COLUMNS) if c not in TEXT_COLUMNS)
CASE_METADATA = StudyLayout("").cases_csv.name


def tidy_table(metrics: pd.DataFrame, case: str = "", dose: float = np.nan, reconstruction: str = "",
               model: str = "", reference: str = "full_dose", contrast: bool | None = None,
               realization: int = 0) -> pd.DataFrame:
    """The per-label metrics of one comparison tagged with its study coordinates, in schema order."""
    if reference not in REFERENCES:
        raise InputError(f"reference must be one of {', '.join(REFERENCES)}, got {reference!r}")
    table = metrics.copy()
    tags = dict(case=case, dose=float(dose), reconstruction=reconstruction, model=model,
                realization=int(realization), reference=reference)
    for column in TAG_COLUMNS:
        table[column] = tags[column]
    if contrast is not None:
        table["contrast"] = bool(contrast)
    return table[[*TAG_COLUMNS, *METRIC_COLUMNS, *(["contrast"] if contrast is not None else [])]]


def write_table(table: pd.DataFrame, path: str | Path, overwrite: bool = False) -> Path:
    """Write a table as CSV or Parquet (by extension); refuses to replace a file unless ``overwrite``."""
    path = Path(path)
    if path.suffix not in TABLE_FORMATS:
        raise InputError(f"results go to a .csv or .parquet file, got {path.name}")
    with atomic_output(path, overwrite) as temporary:
        if path.suffix == ".csv":
            table.to_csv(temporary, index=False)
        else:
            table.to_parquet(temporary, index=False)
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet table (``inf``, empty names and case ids such as "007" survive the CSV round trip).

    A file that is not a readable table is an :class:`InputError` naming it.
    """
    path = Path(path)
    if path.suffix not in TABLE_FORMATS:
        raise InputError(f"results are read from .csv or .parquet files, got {path.name}")
    text = dict.fromkeys(TEXT_COLUMNS, str)
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path)
        table = pd.read_csv(path, dtype=text)
    except (OSError, ValueError, UnicodeDecodeError) as error:  # pyarrow's and pandas' parser errors are ValueErrors
        message = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise InputError(f"{path} is not a readable {path.suffix[1:]} table ({message})") from None
    present = [column for column in text if column in table]
    table[present] = table[present].fillna("")
    return table


def read_results(results_dir: str | Path) -> pd.DataFrame:
    """All tidy tables below ``results_dir`` stacked into one (see module docstring)."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise InputError(f"results folder not found: {results_dir}")
    layout = StudyLayout(results_dir)
    if layout.manifest.exists() and layout.results_csv.exists():  # a study: its own table, not every file in it
        paths = [layout.results_csv]
    else:
        paths = [p for p in sorted(results_dir.rglob("*")) if p.suffix in TABLE_FORMATS
                 and not p.name.startswith(PARTIAL_PREFIX)]  # left over by a killed writer: never a result
    tables = [_numeric_checked(table, path) for path in paths
              for table in [read_table(path)] if set(REQUIRED_COLUMNS) <= set(table.columns)]
    if not tables:
        raise InputError(f"no results tables (.csv/.parquet with columns {', '.join(REQUIRED_COLUMNS)}) "
                         f"in {results_dir}")
    results = pd.concat(tables, ignore_index=True)
    empty_values = dict(case="", dose=np.nan, reconstruction="", model="", realization=0, reference="full_dose", name="")
    for column, empty in empty_values.items():
        results[column] = results[column].fillna(empty) if column in results else empty
    metadata = results_dir / CASE_METADATA
    if metadata.exists():
        cases = read_table(metadata)
        if not {"case", "contrast"} <= set(cases.columns):
            raise InputError(f"{metadata} needs the columns case and contrast")
        results = results.drop(columns="contrast", errors="ignore").merge(
            cases[["case", "contrast"]], on="case", how="left")
    return results


def _numeric_checked(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The table with its number columns as numbers; a value that is not one is an :class:`InputError` naming it."""
    for column in [c for c in NUMERIC_COLUMNS if c in table]:
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & table[column].notna() & (table[column].astype(str).str.strip() != "")
        if bad.any():
            row = int(bad.idxmax())
            raise InputError(f"{path}: column {column} holds {table[column][row]!r} in row {row + 1}, not a number")
        table[column] = values
    return table


def informative_rows(results: pd.DataFrame) -> pd.DataFrame:
    """Rows of labels present in at least one map (absent-in-both rows say nothing about robustness)."""
    return results[results["status"] != ABSENT_IN_BOTH] if "status" in results else results


def median_absolute_deviation(values) -> float:
    """MAD = median(|x - median(x)|), unscaled (Tsanda et al. 2024, Table 2); NaN when the median is infinite."""
    values = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        return float(np.median(np.abs(values - np.median(values))))


def summarize(results: pd.DataFrame) -> pd.DataFrame:
    """Median and MAD across cases per model x reconstruction x dose x reference (x contrast), as Table 2.

    As in the paper, each case's value is first the mean over its labels; labels absent from
    both maps are left out. A case with a label missing in one map has HD95 = inf, which the
    median tolerates. Columns: the group keys, ``cases``, and ``<metric>_median`` /
    ``<metric>_mad`` for dice, hd95_mm and (where filled) hd95_vox.
    """
    keys = ["model", "reconstruction", "dose", "reference"]
    if "contrast" in results and results["contrast"].notna().any():
        keys.append("contrast")
    metrics = [m for m in SUMMARY_METRICS if m in results and results[m].notna().any()]
    per_case = informative_rows(results).groupby(keys + ["case"], dropna=False)[metrics].mean().reset_index()
    summary = per_case.groupby(keys, dropna=False).agg(
        cases=("case", "size"),
        **{f"{m}_{stat}": (m, func) for m in metrics
           for stat, func in (("median", "median"), ("mad", median_absolute_deviation))})
    return summary.reset_index().sort_values(keys, ascending=[key != "dose" for key in keys])
