"""Fixtures of the bag tool tests: weights, synthetic input bags, output readers.

Two kinds of weights:

* ``any_weights``: the shipped coco17 weights when they exist, else a *real but untrained*
  network saved in a temporary file with the project's own ``save_weights``. The bag
  tool's plumbing (topics, counts, stamps, errors) does not depend on fit quality, so these
  tests run either way;
* ``shipped_weights``: the shipped file; tests that need fits to succeed (TF frames are
  only published for successful fits) skip with a precise reason when it is absent.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from lgd_ros.bag.synthetic import (
    SyntheticBag,
    SyntheticBagSpec,
    write_synthetic_keypoint_bag,
)

FORMAT = "coco17"


@pytest.fixture(scope="session", autouse=True)
def _single_thread() -> None:
    torch.set_num_threads(1)


def _shipped(fmt: str) -> Path:
    from lgd_ros.fitting.weights import default_weights_path

    return default_weights_path(fmt)


@pytest.fixture(scope="session")
def shipped_weights() -> Path:
    path = _shipped(FORMAT)
    if not path.is_file():
        pytest.skip(f"needs the shipped weights {path} (trained by `python -m lgd_ros.fitting.train "
                    f"--fmt {FORMAT}`), which are not in this checkout yet")
    return path


@pytest.fixture(scope="session")
def any_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = _shipped(FORMAT)
    if path.is_file():
        return path
    from lgd_ros.body import BodyModel, get_keypoint_format
    from lgd_ros.fitting import LGDNetwork, NetworkConfig
    from lgd_ros.fitting.weights import WeightsMetadata, save_weights

    torch.manual_seed(0)
    model = BodyModel.load()
    config = NetworkConfig(num_keypoints=get_keypoint_format(FORMAT).num_keypoints)
    return save_weights(tmp_path_factory.mktemp("weights") / f"untrained_{FORMAT}.pt", LGDNetwork(config),
                        WeightsMetadata(FORMAT, model.fingerprint, model.name, config, "untrained"))


@pytest.fixture
def make_bag(tmp_path: Path):
    """``make_bag(name, **spec fields) -> SyntheticBag`` in this test's tmp_path."""

    def make(name: str = "in", **spec: Any) -> SyntheticBag:
        return write_synthetic_keypoint_bag(tmp_path / name, SyntheticBagSpec(**spec))

    return make
