"""Write a tiny MONAI model (config + randomly initialised weights) for tests and benchmarks.

The weights are untrained: the model only exercises the MONAI invocation path
(config parsing, network construction, checkpoint loading, sliding-window inference).

    python LowDoseRobustness/Scripts/make_tiny_monai_model.py [--network UNet] [-o Testing/Data/tiny_monai]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

REPOSITORY = Path(__file__).resolve().parents[2]
LABELS = {"1": "liver", "2": "spleen"}
TINY_KWARGS = {  # 1 input channel, background + 2 labels, a few thousand to ~100 k parameters
    "UNet": {"spatial_dims": 3, "channels": [4, 8], "strides": [2], "num_res_units": 0},
    "SegResNet": {"spatial_dims": 3, "init_filters": 8, "blocks_down": [1, 1], "blocks_up": [1]},
    "UNETR": {"img_size": [32, 32, 32], "feature_size": 4, "hidden_size": 48, "mlp_dim": 96, "num_heads": 4},
    "SwinUNETR": {"feature_size": 12, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 1, 1]},
}
ROI_SIZE = {"SwinUNETR": [64, 64, 64]}  # five halvings need 64 voxels; the others work on 32


def write_tiny_model(folder: Path, network_name: str = "UNet", seed: int = 0) -> Path:
    """Config ``folder/<name>.json`` and weights ``folder/<name>.pt``; returns the config path."""
    from monai.networks import nets

    kwargs = {"in_channels": 1, "out_channels": len(LABELS) + 1, **TINY_KWARGS[network_name]}
    torch.manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    stem = network_name.lower()
    torch.save(getattr(nets, network_name)(**kwargs).state_dict(), folder / f"{stem}.pt")
    config = {"network": {"name": network_name, "kwargs": kwargs}, "checkpoint": f"{stem}.pt",
              "windows_hu": [[-175.0, 250.0]], "spacing_mm": [3.0, 3.0, 3.0], "orientation": "RAS",
              "roi_size": ROI_SIZE.get(network_name, [32, 32, 32]), "sw_batch_size": 2, "overlap": 0.25, "labels": LABELS}
    path = folder / f"{stem}.json"
    path.write_text(json.dumps(config, indent=1))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--network", choices=sorted(TINY_KWARGS), default="UNet")
    parser.add_argument("-o", "--output", type=Path, default=REPOSITORY / "Testing" / "Data" / "tiny_monai")
    arguments = parser.parse_args()
    print(write_tiny_model(arguments.output, arguments.network))


if __name__ == "__main__":
    main()
