"""Shared fixtures of the fitting tests: the real default body model and held-out poses."""

from __future__ import annotations

import pytest
import torch

from lgd_ros.body import BodyModel
from lgd_ros.data import load_pose_corpus


@pytest.fixture(scope="session", autouse=True)
def _single_thread() -> None:
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def body_model() -> BodyModel:
    return BodyModel.load()


@pytest.fixture(scope="session")
def body_model64() -> BodyModel:
    return BodyModel.load(dtype=torch.float64)


@pytest.fixture(scope="session")
def val_poses() -> torch.Tensor:
    return load_pose_corpus().val_poses()


@pytest.fixture(scope="session")
def train_poses() -> torch.Tensor:
    return load_pose_corpus().train_poses()
