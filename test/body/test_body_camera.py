"""Pinhole projection in the REP-103 camera optical frame; intrinsics checks."""

from __future__ import annotations

import pytest
import torch

from lgd_ros.body import (
    Intrinsics,
    IntrinsicsError,
    check_intrinsics,
    intrinsics_matrix,
    project_points,
)


def test_projection_formula_and_axes() -> None:
    k = intrinsics_matrix(500.0, 400.0, 320.0, 240.0, dtype=torch.float64)
    points = torch.tensor([[[0.0, 0.0, 2.0], [1.0, 0.0, 2.0], [0.0, 1.0, 4.0]]],
                          dtype=torch.float64)
    pixels = project_points(points, k)
    # Optical axis -> principal point; +x (right) -> larger u; +y (down) -> larger v.
    expected = torch.tensor([[[320.0, 240.0], [570.0, 240.0], [320.0, 340.0]]],
                            dtype=torch.float64)
    assert torch.allclose(pixels, expected)


def test_per_sample_intrinsics() -> None:
    k = intrinsics_matrix(torch.tensor([100.0, 200.0]), torch.tensor([100.0, 200.0]),
                          torch.tensor([10.0, 20.0]), torch.tensor([30.0, 40.0]))
    assert k.shape == (2, 3, 3)
    points = torch.tensor([[[1.0, 1.0, 1.0]], [[1.0, 1.0, 1.0]]])
    pixels = project_points(points, k)
    assert torch.allclose(pixels, torch.tensor([[[110.0, 130.0]], [[220.0, 240.0]]]))


def test_points_behind_camera_stay_finite_and_gradients_flow() -> None:
    k = Intrinsics(500, 500, 320, 240).as_matrix(dtype=torch.float64)
    points = torch.tensor([[[0.1, 0.2, 0.0], [0.1, 0.2, -1.0], [0.3, -0.2, 3.0]]],
                          dtype=torch.float64, requires_grad=True)
    pixels = project_points(points, k)
    assert torch.isfinite(pixels).all()
    assert torch.autograd.gradcheck(lambda p: project_points(p, k), (points[:, 2:].detach()
                                                                     .clone().requires_grad_(),))


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (torch.zeros(3, 3), "focal lengths must be positive"),
        (torch.tensor([[500.0, 0, 1], [0, 500, 1], [0, 0, 2]]), "last row"),
        (torch.tensor([[float("nan"), 0, 1], [0, 500, 1], [0, 0, 1]]), "NaN"),
        (torch.eye(4), r"shape \[3, 3\] or \[B, 3, 3\]"),
    ],
)
def test_degenerate_intrinsics_are_rejected(matrix: torch.Tensor, message: str) -> None:
    with pytest.raises(IntrinsicsError, match=message):
        check_intrinsics(matrix)


def test_intrinsics_helpers() -> None:
    with pytest.raises(IntrinsicsError, match="positive"):
        intrinsics_matrix(0.0, 500.0, 320.0, 240.0)
    with pytest.raises(IntrinsicsError, match="batch 3 does not match the 2 samples"):
        check_intrinsics(torch.eye(3).expand(3, 3, 3), batch_size=2)
    intrinsics = Intrinsics.from_field_of_view(640, 480, 90.0)
    assert intrinsics.fx == pytest.approx(320.0) and intrinsics.cx == 320.0
    assert Intrinsics.from_matrix(intrinsics.as_matrix(dtype=torch.float64)) == intrinsics
    with pytest.raises(IntrinsicsError, match="points_cam must have shape"):
        project_points(torch.zeros(4, 3), torch.eye(3))
