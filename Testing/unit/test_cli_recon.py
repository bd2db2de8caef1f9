"""``lowdose simulate --recon ...`` end to end on the real 30-slice example CT, fast geometry."""
from __future__ import annotations

import numpy as np
import pytest
from reconstruction_scans import EXAMPLES

from LowDoseRobustnessLib.cli import main
from LowDoseRobustnessLib.io.volumes import read_volume


@pytest.mark.parametrize("recon_arguments", [["--recon", "iterative", "--iterations", "3", "--regularization", "2"],
                                             ["--recon", "cnn", "--filter", "shepp-logan"]])
def test_simulate_writes_the_chosen_reconstruction(tmp_path, recon_arguments):
    output = tmp_path / "dose_020.nii.gz"
    code = main(["simulate", str(EXAMPLES / "example_ct_sm.nii.gz"), "--dose", "0.2", "--geometry", "fast",
                 "-o", str(output), *recon_arguments])
    assert code == 0
    result = read_volume(output)
    assert result.array.shape == (30, 101, 122) and np.all(np.isfinite(result.array))


def test_options_a_method_does_not_take_are_refused(tmp_path, capsys):
    code = main(["simulate", str(EXAMPLES / "example_ct_sm.nii.gz"), "--dose", "0.2", "--recon", "fbp",
                 "--regularization", "2", "-o", str(tmp_path / "out.nii.gz")])
    assert code == 2 and "--regularization does not apply to --recon fbp" in capsys.readouterr().err


def test_unknown_reconstruction_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit):
        main(["simulate", "in.nii.gz", "--dose", "0.2", "--recon", "sart", "-o", str(tmp_path / "out.nii.gz")])
