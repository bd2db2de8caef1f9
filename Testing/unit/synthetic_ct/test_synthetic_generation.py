"""Generation: determinism by seed, dropped labels absent, CT noise through the LowDoseRobustness simulator."""

import numpy as np
import pytest

import SyntheticCTLib.noise
from LowDoseRobustnessLib.simulation.simulate import SimulationSettings
from SyntheticCTLib.augment import Augmentation
from SyntheticCTLib.generate import SynthesisSettings, generate_cases
from SyntheticCTLib.noise import add_ct_noise
from SyntheticCTLib.strategies import all_labels


def _cases(organs, statistics, settings, count=2, seed=7, ct=None):
    labels, names, components = organs
    return list(generate_cases(labels, names, components, statistics, settings, count, seed, ct))


def test_same_seed_gives_identical_cases(organs, statistics):
    settings = SynthesisSettings("texture", Augmentation(rotation_max_deg=16, intensity_shift_hu=20))
    first, second = _cases(organs, statistics, settings), _cases(organs, statistics, settings)
    for a, b in zip(first, second):
        assert np.array_equal(a.image.array, b.image.array) and np.array_equal(a.labels.array, b.labels.array)
    other = _cases(organs, statistics, settings, count=1, seed=8)[0]
    assert not np.array_equal(other.image.array, first[0].image.array)
    assert not np.array_equal(first[0].image.array, first[1].image.array)


@pytest.mark.parametrize("strategy", ["single", "constant"])
def test_dropped_labels_are_absent_from_image_and_label_map(organs, statistics, ct_crop, strategy):
    labels, names, _ = organs
    settings = SynthesisSettings(strategy, Augmentation(drop_probability=0.5), noise=False)
    cases = _cases(organs, statistics, settings, count=6, seed=3, ct=ct_crop)
    assert any(case.dropped for case in cases) and any(len(case.dropped) < len(names) for case in cases)
    value_of = {name: value for value, name in names.items()}
    for case in cases:
        image, kept = case.image.array, case.labels.array
        kept_values = {value_of[n] for n in names.values() if n not in case.dropped}
        assert set(np.unique(kept)) - {0} == kept_values & set(np.unique(labels.array))
        label_constants = {float(image[kept == v][0]) for v in kept_values if np.any(kept == v)}
        for name in case.dropped:
            region = labels.array == value_of[name]
            assert not np.any(kept[region]), f"{name} dropped but still in the label map"
            # filled like unlabelled body, not with a label's constant
            assert not np.isin(image[region], list(label_constants)).any()
            if strategy == "constant":  # the background classes' constants
                assert np.isin(image[region], image[labels.array == 0]).all()
            else:  # the body cylinder's texture (or air outside it)
                body = image[region][image[region] > -1000]
                assert body.size < 2 or np.ptp(body) > 0


def test_noise_is_added_by_the_lowdose_simulator(organs, statistics, monkeypatch):
    labels, names, components = organs
    calls = []
    simulate = SyntheticCTLib.noise.simulate_low_dose
    monkeypatch.setattr(SyntheticCTLib.noise, "simulate_low_dose",
                        lambda *args, **kwargs: calls.append(args) or simulate(*args, **kwargs))
    case = _cases(organs, statistics, SynthesisSettings("constant", Augmentation(drop_probability=0.0)), count=1)[0]
    assert len(calls) == 1
    liver = case.labels.array == 1
    interior = liver & np.roll(liver, 2, axis=1) & np.roll(liver, -2, axis=1) & np.roll(liver, 2, axis=2) & np.roll(liver, -2, axis=2)
    assert case.image.array[interior].std() > 5.0  # a constant organ became noisy


def test_noise_grows_as_the_incident_flux_drops(organs, statistics, ct_crop):
    labels, names, components = organs
    from SyntheticCTLib.body import tissue_classes_from_ct
    from SyntheticCTLib.generate import label_tissues
    clean = all_labels(labels, tissue_classes_from_ct(ct_crop.array, labels.array),
                       label_tissues(names, components, statistics), statistics, np.random.default_rng(0), False)
    liver = labels.array == 1
    sd = {}
    for flux in (2e4, 2e5):
        noisy = add_ct_noise(clean, SimulationSettings(geometry="fast", incident_flux=flux), seed=1)
        sd[flux] = float((noisy.array - clean.array)[liver].std())
    # quantum noise SD scales as 1/sqrt(I0); blur of the reprojection adds a little at both levels
    assert sd[2e4] > 2.0 * sd[2e5]
