"""What the panel's dose switches, dose text and reconstruction list mean."""
import pytest

from LowDoseRobustnessLib.contract import RECONSTRUCTIONS
from LowDoseRobustnessSlicer.choices import join_reconstructions, parse_doses, parse_reconstructions, selected_doses


def test_doses_from_switches_and_text():
    assert parse_doses("20, 40%") == (0.2, 0.4) and parse_doses("0.25") == (0.25,)
    assert selected_doses({20: True, 40: False, 60: True}, "5, 10") == (0.05, 0.1, 0.2, 0.6)
    for bad in ("five", "150"):
        with pytest.raises(ValueError, match="dose"):
            selected_doses({}, bad)


def test_reconstructions_in_the_catalogues_order():
    assert parse_reconstructions("cnn, fbp, cnn") == ("cnn", "fbp")
    assert join_reconstructions({"cnn", "fbp"}) == ", ".join(name for name in RECONSTRUCTIONS if name in {"cnn", "fbp"})
    with pytest.raises(ValueError, match="unknown reconstruction magic"):
        parse_reconstructions("fbp, magic")
