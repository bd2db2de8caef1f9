"""Image-domain denoisers: registry, the shipped CNN checkpoint, non-local means."""
from __future__ import annotations

import numpy as np
import pytest

from LowDoseRobustnessLib.contract import DENOISERS
from LowDoseRobustnessLib.reconstruction.denoisers import get_denoiser
from LowDoseRobustnessLib.reconstruction.denoisers.redcnn import DEFAULT_CHECKPOINT, RedCnn, denoise_slices
from LowDoseRobustnessLib.errors import InputError


def test_registry_refuses_unknown_names_and_missing_checkpoints(tmp_path):
    assert {"cnn", "nlm"} <= set(DENOISERS)
    with pytest.raises(InputError, match="choose one of"):
        get_denoiser("bm3d-typo")
    with pytest.raises(InputError, match="train one with"):
        get_denoiser("cnn", checkpoint=tmp_path / "missing.pt")


def test_shipped_checkpoint_is_small():
    assert DEFAULT_CHECKPOINT.is_file() and DEFAULT_CHECKPOINT.stat().st_size < 5_000_000


def test_cnn_keeps_shape_for_any_slice_size_and_is_deterministic():
    network = RedCnn().eval()
    hu = np.random.default_rng(0).normal(0, 50, (2, 37, 50)).astype(np.float32)
    out = denoise_slices(network, hu)
    assert out.shape == hu.shape and np.array_equal(out, denoise_slices(network, hu))


def test_non_local_means_reduces_noise_and_keeps_the_mean():
    rng = np.random.default_rng(1)
    hu = np.full((2, 64, 64), 40.0, np.float32) + rng.normal(0, 30, (2, 64, 64)).astype(np.float32)
    out = get_denoiser("nlm").denoise(hu)
    assert out.std() < 0.5 * hu.std() and abs(out.mean() - hu.mean()) < 2.0
