"""SMPL layout constants and left/right mirroring."""

from __future__ import annotations

import torch

from lgd_ros.body import BodyModel
from lgd_ros.body.skeleton import (
    SMPL_JOINT_NAMES,
    SMPL_MIRROR_PERMUTATION,
    SMPL_PARENTS,
    kinematic_depth,
    mirror_pose,
)


def test_layout() -> None:
    assert len(SMPL_JOINT_NAMES) == len(SMPL_PARENTS) == 24
    assert all(parent < child for child, parent in enumerate(SMPL_PARENTS) if parent >= 0)
    assert max(kinematic_depth()) == 8
    assert SMPL_JOINT_NAMES[SMPL_MIRROR_PERMUTATION[16]] == "right_shoulder"
    assert all(SMPL_MIRROR_PERMUTATION[SMPL_MIRROR_PERMUTATION[i]] == i for i in range(24))


def test_mirror_pose_mirrors_the_body(default_model_f64: BodyModel) -> None:
    """Mirroring a pose mirrors the posed joints (x -> -x, left <-> right) on the default
    model, whose mean shape is left/right symmetric."""
    generator = torch.Generator().manual_seed(0)
    pose = torch.randn(3, 72, generator=generator, dtype=torch.float64) * 0.4
    betas = torch.zeros(3, 10, dtype=torch.float64)
    transl = torch.zeros(3, 3, dtype=torch.float64)
    joints = default_model_f64(pose, betas, transl).joints
    mirrored = default_model_f64(mirror_pose(pose), betas, transl).joints
    reflected = joints[:, list(SMPL_MIRROR_PERMUTATION)] * torch.tensor(
        [-1.0, 1.0, 1.0], dtype=torch.float64)
    assert (mirrored - reflected).abs().max() < 2e-3  # the mesh is symmetric to ~mm
    assert torch.equal(mirror_pose(mirror_pose(pose)), pose)
