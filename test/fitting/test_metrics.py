"""Error measures."""

from __future__ import annotations

import math

import torch

from lgd_ros.body.rotations import axis_angle_to_matrix
from lgd_ros.fitting.metrics import mpjpe, pa_mpjpe


def test_pa_mpjpe_ignores_similarity_transforms() -> None:
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(3, 24, 3, generator=gen)
    rot = axis_angle_to_matrix(torch.tensor([[0.3, -1.2, 2.0]] * 3))
    moved = 1.7 * target @ rot.transpose(1, 2) + torch.tensor([0.5, -2.0, 3.0])
    assert float(pa_mpjpe(moved, target).max()) < 1e-4
    assert float(mpjpe(moved, target).min()) > 0.1


def test_mpjpe_is_pelvis_aligned_mean_distance() -> None:
    target = torch.zeros(1, 3, 3)
    pred = torch.tensor([[[1.0, 0, 0], [1.0, 0, 0], [4.0, 4.0, 0]]])
    # Relative to the pelvis: (0,0,0), (0,0,0), (3,4,0) -> mean 5/3.
    assert math.isclose(float(mpjpe(pred, target)), 5 / 3, rel_tol=1e-6)
