"""Rotation conversions (torch, batched, any float dtype and device, differentiable).

The single rotation module of the project: every other module converts through here.
Conventions:

* axis-angle ``a`` (``[..., 3]``): rotation by ``|a|`` radians about ``a / |a|``, right-handed;
* quaternions are ``(w, x, y, z)``, scalar first; outputs have ``w >= 0``;
* matrices act on column vectors: ``x' = R @ x``.

Small-angle safety: ``|a|`` is computed as ``sqrt(|a|^2 + eps^2)`` with ``eps = 1e-12`` and
fed to ``sinc``, which is smooth at zero, so values *and* gradients are finite at the zero
rotation (the shift changes results by ~eps^2, far below float64 round-off).
"""

from __future__ import annotations

import math

import torch

from lgd_ros.body.errors import BodyInputError

__all__ = [
    "axis_angle_to_matrix",
    "axis_angle_to_matrix_parts",
    "axis_angle_to_quaternion",
    "euler_to_matrix",
    "left_jacobian_transpose_apply",
    "matrix_to_axis_angle",
    "matrix_to_quaternion",
    "quaternion_to_axis_angle",
    "quaternion_to_matrix",
]

_ANGLE_EPS_SQ = 1e-24  # (1e-12 rad)^2: keeps sqrt differentiable at the zero rotation

# skew(a) flattened row-major is a @ _SKEW_BASIS: [[0,-z,y],[z,0,-x],[-y,x,0]].
_SKEW_BASIS = (
    (0.0, 0.0, 0.0, 0.0, 0.0, -1.0, 0.0, 1.0, 0.0),  # x
    (0.0, 0.0, 1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0),  # y
    (0.0, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0),  # z
)
_IDENTITY_FLAT = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)


def _check_last_dims(name: str, tensor: torch.Tensor, shape: tuple[int, ...]) -> None:
    if tuple(tensor.shape[tensor.dim() - len(shape):]) != shape or tensor.dim() < len(shape):
        expected = "[..., " + ", ".join(str(s) for s in shape) + "]"
        raise BodyInputError(f"{name} must have shape {expected}, got {tuple(tensor.shape)}")
    if not tensor.is_floating_point():
        raise BodyInputError(f"{name} must be a floating point tensor, got {tensor.dtype}")


_CONSTANTS: dict[tuple[torch.dtype, torch.device], tuple[torch.Tensor, torch.Tensor]] = {}


def _rodrigues_constants(
    dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """``[3, 9]`` skew basis and ``[9]`` flat identity, cached per dtype/device (creating
    small tensors costs more than using them at batch 1).

    Made outside inference mode even when first asked for inside it (a fit): an inference
    tensor in the cache would break every later autograd use (training, gradient checks).
    """
    key = (dtype, device)
    if key not in _CONSTANTS:
        with torch.inference_mode(False):
            _CONSTANTS[key] = (
                torch.tensor(_SKEW_BASIS, dtype=dtype, device=device),
                torch.tensor(_IDENTITY_FLAT, dtype=dtype, device=device),
            )
    return _CONSTANTS[key]


def axis_angle_to_matrix_parts(
    axis_angle: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Rodrigues' formula, also returning the coefficients SO(3)'s Jacobians reuse.

    With ``t = |a|`` (shifted by 1e-12 rad, see the module doc), ``s = sinc(t / 2pi)
    = sin(t/2) / (t/2)`` and ``w = cos(t/2)``::

        sin t / t         = s w
        (1 - cos t) / t^2 = s^2 / 2
        cos t             = 1 - t^2 s^2 / 2
        R = cos t I + (sin t / t) [a]x + ((1 - cos t) / t^2) a a^T

    Returns:
        ``R [..., 3, 3]``, ``sin t / t [..., 1]``, ``(1 - cos t) / t^2 [..., 1]`` and the
        shifted ``t^2 [..., 1]``.
    """
    skew_basis, identity = _rodrigues_constants(axis_angle.dtype, axis_angle.device)
    angle_sq = (axis_angle * axis_angle).sum(-1, keepdim=True) + _ANGLE_EPS_SQ  # [..., 1]
    half_angle = angle_sq.sqrt() * 0.5
    sinc_half = torch.sinc(half_angle * (1.0 / math.pi))
    sin_over_angle = sinc_half * torch.cos(half_angle)
    one_minus_cos_over_sq = 0.5 * sinc_half * sinc_half
    cos_angle = 1.0 - angle_sq * one_minus_cos_over_sq
    skew = axis_angle @ skew_basis  # [..., 9]
    outer = (axis_angle.unsqueeze(-1) * axis_angle.unsqueeze(-2)).flatten(-2)  # [..., 9]
    matrix = torch.addcmul(
        torch.addcmul(cos_angle * identity, sin_over_angle, skew), one_minus_cos_over_sq, outer
    )
    matrix = matrix.reshape(*matrix.shape[:-1], 3, 3)
    return matrix, sin_over_angle, one_minus_cos_over_sq, angle_sq


def axis_angle_to_matrix(axis_angle: torch.Tensor) -> torch.Tensor:
    """Rodrigues' formula, written without dividing by the angle.

    ``R = cos(t) I + (sin t / t) [a]x + ((1 - cos t) / t^2) a a^T`` with ``t = |a|``; the
    coefficients come from ``sinc``, smooth at ``t = 0`` (see
    :func:`axis_angle_to_matrix_parts`).

    Args:
        axis_angle: ``[..., 3]``.

    Returns:
        ``[..., 3, 3]`` rotation matrices.
    """
    _check_last_dims("axis_angle", axis_angle, (3,))
    return axis_angle_to_matrix_parts(axis_angle)[0]


def left_jacobian_transpose_apply(
    axis_angle: torch.Tensor,
    vector: torch.Tensor,
    sin_over_angle: torch.Tensor,
    one_minus_cos_over_sq: torch.Tensor,
    angle_sq: torch.Tensor,
) -> torch.Tensor:
    """``J_l(a)^T v`` for SO(3)'s left Jacobian (``R(a + da) = exp([J_l da]x) R(a)``).

    ``J_l = I + ((1 - cos t)/t^2) [a]x + ((t - sin t)/t^3) [a]x^2``, so
    ``J_l^T v = v - b (a x v) + c (a (a.v) - t^2 v)`` with ``c = (1 - sin t / t) / t^2``.
    The coefficients come from :func:`axis_angle_to_matrix_parts`. ``c`` loses relative
    precision as ``t -> 0`` but is multiplied by terms of size ``t^2``, so the result keeps
    full absolute precision.
    """
    c = (1.0 - sin_over_angle) / angle_sq
    cross = torch.linalg.cross(axis_angle, vector)
    dot = (axis_angle * vector).sum(-1, keepdim=True)
    result: torch.Tensor = (vector - one_minus_cos_over_sq * cross
                            + c * (axis_angle * dot - angle_sq * vector))
    return result


def axis_angle_to_quaternion(axis_angle: torch.Tensor) -> torch.Tensor:
    """``[..., 3]`` axis-angle to ``[..., 4]`` unit quaternions ``(w, x, y, z)``.

    ``q = (cos(t/2), a sin(t/2)/t)``; ``sin(t/2)/t = sinc(t / 2pi) / 2`` is smooth at zero.
    Angles above pi give ``w < 0``; the result is then negated (same rotation) so ``w >= 0``.
    """
    _check_last_dims("axis_angle", axis_angle, (3,))
    angle = (axis_angle.square().sum(-1, keepdim=True) + _ANGLE_EPS_SQ).sqrt()
    w = torch.cos(0.5 * angle)
    xyz = axis_angle * (0.5 * torch.sinc(angle * (0.5 / math.pi)))
    quaternion = torch.cat([w, xyz], dim=-1)
    return torch.where(w < 0, -quaternion, quaternion)


def quaternion_to_matrix(quaternion: torch.Tensor) -> torch.Tensor:
    """``[..., 4]`` quaternions ``(w, x, y, z)`` (normalised here) to ``[..., 3, 3]``."""
    _check_last_dims("quaternion", quaternion, (4,))
    q = quaternion / quaternion.norm(dim=-1, keepdim=True)
    w, x, y, z = q.unbind(-1)
    matrix = torch.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        dim=-1,
    )
    return matrix.reshape(*matrix.shape[:-1], 3, 3)


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """``[..., 3, 3]`` rotation matrices to ``[..., 4]`` unit quaternions with ``w >= 0``.

    Shepperd's method: of the four ways to recover ``q`` (from the trace, or from one of the
    diagonal entries) the one with the largest ``4 q_i^2`` is used, which never divides by a
    small number.
    """
    _check_last_dims("matrix", matrix, (3, 3))
    m = matrix.flatten(-2)
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.unbind(-1)
    # four_q_sq[..., i] = 4 q_i^2 for q = (w, x, y, z)
    four_q_sq = torch.stack(
        [
            1 + m00 + m11 + m22,
            1 + m00 - m11 - m22,
            1 - m00 + m11 - m22,
            1 - m00 - m11 + m22,
        ],
        dim=-1,
    )
    # candidates[..., i, :] = 4 q_i q (unnormalised), exact for the chosen i
    candidates = torch.stack(
        [
            torch.stack([four_q_sq[..., 0], m21 - m12, m02 - m20, m10 - m01], dim=-1),
            torch.stack([m21 - m12, four_q_sq[..., 1], m10 + m01, m02 + m20], dim=-1),
            torch.stack([m02 - m20, m10 + m01, four_q_sq[..., 2], m12 + m21], dim=-1),
            torch.stack([m10 - m01, m20 + m02, m21 + m12, four_q_sq[..., 3]], dim=-1),
        ],
        dim=-2,
    )
    best = four_q_sq.argmax(dim=-1, keepdim=True)  # [..., 1]
    chosen = candidates.gather(-2, best.unsqueeze(-1).expand(*best.shape, 4)).squeeze(-2)
    quaternion = chosen / chosen.norm(dim=-1, keepdim=True)
    return torch.where(quaternion[..., :1] < 0, -quaternion, quaternion)


def quaternion_to_axis_angle(quaternion: torch.Tensor) -> torch.Tensor:
    """``[..., 4]`` quaternions ``(w, x, y, z)`` to ``[..., 3]`` axis-angle, angle in [0, pi].

    ``t = 2 atan2(|v|, w)`` and ``a = v t / |v|``; near the identity ``t / |v| -> 2 / w``.
    """
    _check_last_dims("quaternion", quaternion, (4,))
    q = quaternion / quaternion.norm(dim=-1, keepdim=True)
    q = torch.where(q[..., :1] < 0, -q, q)
    w, xyz = q[..., :1], q[..., 1:]
    sin_half_sq = xyz.square().sum(-1, keepdim=True)
    small = sin_half_sq < 1e-12
    sin_half = torch.where(small, torch.ones_like(sin_half_sq), sin_half_sq).sqrt()
    angle_over_sin_half = torch.where(
        small,
        2.0 / w * (1.0 - sin_half_sq / (3.0 * w * w)),  # Taylor series of 2 atan(s/w) / s
        2.0 * torch.atan2(sin_half, w) / sin_half,
    )
    return xyz * angle_over_sin_half


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """``[..., 3, 3]`` rotation matrices to ``[..., 3]`` axis-angle (angle in [0, pi])."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def _elementary_rotation(axis: str, angle: torch.Tensor) -> torch.Tensor:
    """Rotation by ``angle`` ``[...]`` about the coordinate axis ``'x'``, ``'y'`` or ``'z'``."""
    cos, sin = torch.cos(angle), torch.sin(angle)
    one, zero = torch.ones_like(angle), torch.zeros_like(angle)
    if axis == "x":
        flat = (one, zero, zero, zero, cos, -sin, zero, sin, cos)
    elif axis == "y":
        flat = (cos, zero, sin, zero, one, zero, -sin, zero, cos)
    else:
        flat = (cos, -sin, zero, sin, cos, zero, zero, zero, one)
    matrix = torch.stack(flat, dim=-1)
    return matrix.reshape(*matrix.shape[:-1], 3, 3)


def euler_to_matrix(angles: torch.Tensor, order: str) -> torch.Tensor:
    """Euler angles (radians) to rotation matrices, with scipy's naming of the order.

    Args:
        angles: ``[..., 3]``; ``angles[..., i]`` is the angle about axis ``order[i]``.
        order: three axis letters. Upper case (``"ZXY"``, as in BVH files) means *intrinsic*
            rotations, ``R = R_Z(a0) R_X(a1) R_Y(a2)``; lower case (``"xyz"``) means
            *extrinsic* rotations about the fixed axes, applied in that order,
            ``R = R_z(a2) R_y(a1) R_x(a0)``.

    Returns:
        ``[..., 3, 3]`` rotation matrices.
    """
    _check_last_dims("angles", angles, (3,))
    if len(order) != 3 or not (
        set(order) <= set("xyz") or set(order) <= set("XYZ")
    ):
        raise BodyInputError(
            f"euler order must be three letters, all of 'xyz' (extrinsic) or all of 'XYZ' "
            f"(intrinsic), got {order!r}"
        )
    rotations = [
        _elementary_rotation(axis.lower(), angle)
        for axis, angle in zip(order, angles.unbind(-1), strict=True)
    ]
    if order.isupper():
        return rotations[0] @ rotations[1] @ rotations[2]
    return rotations[2] @ rotations[1] @ rotations[0]
