"""Rotation conversions against scipy, round trips, and gradients (also at zero)."""

from __future__ import annotations

import pytest
import torch
from scipy.spatial.transform import Rotation

from lgd_ros.body import rotations
from lgd_ros.body.errors import BodyInputError


def _random_axis_angle(count: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(count, 3, generator=generator,
                                                     dtype=torch.float64), dim=-1)
    angle = torch.rand(count, 1, generator=generator, dtype=torch.float64) * 3.1  # < pi
    return axis * angle


def test_axis_angle_to_matrix_matches_scipy() -> None:
    axis_angle = _random_axis_angle(64)
    expected = torch.as_tensor(Rotation.from_rotvec(axis_angle.numpy()).as_matrix())
    assert torch.allclose(rotations.axis_angle_to_matrix(axis_angle), expected, atol=1e-12)


def test_quaternion_conventions_match_scipy() -> None:
    axis_angle = _random_axis_angle(64, seed=1)
    xyzw = Rotation.from_rotvec(axis_angle.numpy()).as_quat()
    wxyz = torch.as_tensor(xyzw[:, [3, 0, 1, 2]])
    wxyz = torch.where(wxyz[:, :1] < 0, -wxyz, wxyz)
    assert torch.allclose(rotations.axis_angle_to_quaternion(axis_angle), wxyz, atol=1e-12)
    matrix = rotations.quaternion_to_matrix(wxyz)
    assert torch.allclose(matrix, rotations.axis_angle_to_matrix(axis_angle), atol=1e-12)


@pytest.mark.parametrize("angle", [0.0, 1e-9, 1e-4, 0.5, 3.0, 3.14159])
def test_round_trips(angle: float) -> None:
    axis = torch.nn.functional.normalize(torch.tensor([[0.3, -0.5, 0.8]], dtype=torch.float64))
    axis_angle = axis * angle
    matrix = rotations.axis_angle_to_matrix(axis_angle)
    assert torch.allclose(rotations.matrix_to_axis_angle(matrix), axis_angle, atol=1e-7)
    quaternion = rotations.matrix_to_quaternion(matrix)
    assert torch.allclose(rotations.quaternion_to_axis_angle(quaternion), axis_angle, atol=1e-7)
    assert torch.allclose(rotations.quaternion_to_matrix(quaternion), matrix, atol=1e-12)


def test_matrix_to_quaternion_near_pi_is_stable() -> None:
    for axis in torch.eye(3, dtype=torch.float64):
        matrix = rotations.axis_angle_to_matrix(axis * torch.pi)
        back = rotations.quaternion_to_matrix(rotations.matrix_to_quaternion(matrix))
        assert torch.allclose(back, matrix, atol=1e-12)


@pytest.mark.parametrize("order", ["XYZ", "ZXY", "zyx", "xyz", "YXZ"])
def test_euler_matches_scipy(order: str) -> None:
    angles = torch.rand(16, 3, dtype=torch.float64) * 2 - 1
    expected = Rotation.from_euler(order, angles.numpy()).as_matrix()
    assert torch.allclose(rotations.euler_to_matrix(angles, order), torch.as_tensor(expected),
                          atol=1e-12)


def test_euler_rejects_mixed_case_order() -> None:
    with pytest.raises(BodyInputError, match="euler order"):
        rotations.euler_to_matrix(torch.zeros(3), "XyZ")


def test_gradients_are_finite_and_correct_at_zero_and_elsewhere() -> None:
    zero = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    matrix = rotations.axis_angle_to_matrix(zero)
    (gradient,) = torch.autograd.grad((matrix * torch.randn_like(matrix)).sum(), zero)
    assert torch.isfinite(gradient).all()
    # d R / d a at a = 0 is the skew generator: R ~ I + [a]x.
    point = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    matrix_at_zero = rotations.axis_angle_to_matrix(point)
    jacobian = torch.stack([
        torch.stack(torch.autograd.grad(entry, point, retain_graph=True))[0]
        for entry in matrix_at_zero.flatten()]).reshape(3, 3, 3)
    generator_x = torch.tensor([[0, 0, 0], [0, 0, -1], [0, 1, 0]], dtype=torch.float64)
    assert torch.allclose(jacobian[..., 0], generator_x)
    for function in (rotations.axis_angle_to_matrix, rotations.axis_angle_to_quaternion):
        assert torch.autograd.gradcheck(function, (_random_axis_angle(4).requires_grad_(),))
        assert torch.autograd.gradcheck(function, (zero.detach().clone().requires_grad_(),))
    quaternion = rotations.axis_angle_to_quaternion(_random_axis_angle(4, seed=3))
    assert torch.autograd.gradcheck(rotations.quaternion_to_axis_angle,
                                     (quaternion.requires_grad_(),))


def test_float32_and_batch_shapes() -> None:
    axis_angle = _random_axis_angle(6).float().reshape(2, 3, 3)
    matrix = rotations.axis_angle_to_matrix(axis_angle)
    assert matrix.shape == (2, 3, 3, 3) and matrix.dtype == torch.float32
    identity = matrix @ matrix.transpose(-1, -2)
    assert torch.allclose(identity, torch.eye(3).expand_as(identity), atol=1e-6)


def test_shape_errors() -> None:
    with pytest.raises(BodyInputError, match=r"axis_angle must have shape \[\.\.\., 3\]"):
        rotations.axis_angle_to_matrix(torch.zeros(4, 4))
    with pytest.raises(BodyInputError, match="floating point"):
        rotations.axis_angle_to_matrix(torch.zeros(4, 3, dtype=torch.long))


def test_constants_first_made_in_a_fit_still_serve_autograd() -> None:
    """The cached Rodrigues constants may be created inside ``inference_mode`` (a fit); a
    later autograd use (training, gradient checks) must still work."""
    dtype = torch.float64
    for key in [k for k in rotations._CONSTANTS if k[0] == dtype]:
        del rotations._CONSTANTS[key]
    with torch.inference_mode():
        rotations.axis_angle_to_matrix(torch.zeros(1, 3, dtype=dtype))
    axis_angle = torch.full((2, 3), 0.3, dtype=dtype, requires_grad=True)
    rotations.axis_angle_to_matrix(axis_angle).sum().backward()
    assert axis_angle.grad is not None and torch.isfinite(axis_angle.grad).all()
