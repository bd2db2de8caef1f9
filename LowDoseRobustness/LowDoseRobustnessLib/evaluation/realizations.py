"""Robustness across repeated noise realizations: the spread of the metrics and the attack rate.

With K noise realizations of a dose, each low-dose mask is compared with the full-dose mask
(realization 0). Per case x model x reconstruction x dose x label (columns
:data:`.contract.REALIZATION_COLUMNS`): the mean, SD (K - 1 in the denominator; empty for
K = 1) and minimum of Dice, the median and maximum HD95, and the **attack rate**: the
fraction of realizations whose Dice falls below the failure threshold -- Peng et al.'s
"successful attack rate" (2023, eq. 2: successful attacks / attacks) with "the prediction
changed" read as "Dice against the full-dose mask < threshold".
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from LowDoseRobustnessLib.contract import REALIZATION_COLUMNS, REALIZATION_KEYS
from LowDoseRobustnessLib.evaluation.results import informative_rows


def realization_spread(results: pd.DataFrame, failure_dice: float) -> pd.DataFrame:
    """One row per case x model x reconstruction x dose x label of the full-dose comparisons (see module doc)."""
    rows = informative_rows(results)
    rows = rows[rows["reference"] == "full_dose"]
    if rows.empty:
        return pd.DataFrame(columns=list(REALIZATION_COLUMNS))
    with np.errstate(invalid="ignore"):
        spread = rows.groupby(list(REALIZATION_KEYS), dropna=False).agg(
            realizations=("realization", "nunique"), dice_mean=("dice", "mean"), dice_sd=("dice", "std"),
            dice_min=("dice", "min"), hd95_mm_median=("hd95_mm", "median"), hd95_mm_max=("hd95_mm", "max"),
            attack_rate=("dice", lambda dice: float(np.mean(np.asarray(dice) < failure_dice))))
    spread["failure_dice"] = float(failure_dice)
    return spread.reset_index()[list(REALIZATION_COLUMNS)]


def attack_rate_by_label(spread: pd.DataFrame) -> pd.DataFrame:
    """Attack rate pooled over cases (every realization of every case counts once) per model, reconstruction,
    dose and label name, with the realizations counted and the mean within-case Dice SD."""
    keys = ["model", "reconstruction", "dose", "name"]
    weighted = spread.assign(attacks=spread["attack_rate"] * spread["realizations"])
    table = weighted.groupby(keys, dropna=False).agg(
        cases=("case", "nunique"), realizations=("realizations", "sum"), attacks=("attacks", "sum"),
        dice_mean=("dice_mean", "mean"), dice_sd=("dice_sd", "mean"), hd95_mm_median=("hd95_mm_median", "median"))
    table["attack_rate"] = table.pop("attacks") / table["realizations"]
    return table.reset_index()
