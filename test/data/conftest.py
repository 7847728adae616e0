"""Shared fixtures of the data tests: fixture files, the default body model, direction helpers."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lgd_ros.body import BodyModel
from lgd_ros.body.skeleton import SMPL_JOINT_NAMES

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "corpus_sources: rebuilds the shipped pose corpus from the pinned source archives "
        "(skipped unless they are in the builder's cache; run tools/build_pose_corpus.py once)",
    )


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture(scope="session")
def body_model() -> BodyModel:
    """The open default body model in float64 (joint directions are compared in degrees)."""
    return BodyModel.load(dtype=torch.float64)


def posed_joints(model: BodyModel, poses: np.ndarray) -> np.ndarray:
    """``[T, 24, 3]`` joints of the default body (mean shape) for ``poses [T, 72]``."""
    pose = torch.as_tensor(np.asarray(poses), dtype=torch.float64)
    batch = pose.shape[0]
    zeros = torch.zeros(batch, 10, dtype=torch.float64)
    layer = model.keypoint_layer("smpl24")
    out = layer(pose, zeros, torch.zeros(batch, 3, dtype=torch.float64))
    return out.joints.detach().numpy()


def segment(joints: np.ndarray, start: str, end: str) -> np.ndarray:
    """Unit direction ``[..., 3]`` from SMPL joint ``start`` to ``end``."""
    vector = (
        joints[..., SMPL_JOINT_NAMES.index(end), :] - joints[..., SMPL_JOINT_NAMES.index(start), :]
    )
    return vector / np.linalg.norm(vector, axis=-1, keepdims=True)


def angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle in degrees between direction arrays ``[..., 3]``."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return np.degrees(np.arccos(np.clip((a * b).sum(-1), -1.0, 1.0)))


@pytest.fixture(scope="session")
def geom() -> SimpleNamespace:
    """The helpers above, for test modules (test directories are not packages here)."""
    return SimpleNamespace(posed_joints=posed_joints, segment=segment, angle_deg=angle_deg)
