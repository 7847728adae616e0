"""How far two fits of the same inputs are apart (an exported backend against torch).

Poses are compared as rotations, not as axis-angle vectors: near a half turn (a person
facing the camera has a global orientation of about pi) the same rotation has two
axis-angle vectors far apart, and float rounding can pick either.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lgd_ros.body.rotations import axis_angle_to_matrix
from lgd_ros.fitting.fitter import FitResult

__all__ = ["ResultDifference", "compare_results", "joint_rotation_angles"]


def joint_rotation_angles(pose_a: torch.Tensor, pose_b: torch.Tensor) -> torch.Tensor:
    """Angle of ``R_a^T R_b`` per joint, radians ``[B, 24]``, for poses ``[B, 72]``.

    ``atan2(|axial(M - M^T)| / 2, (tr M - 1) / 2)``: accurate for small angles, where
    ``acos`` of the trace alone loses half the digits.
    """
    ra = axis_angle_to_matrix(pose_a.detach().reshape(-1, 24, 3).double())
    rb = axis_angle_to_matrix(pose_b.detach().reshape(-1, 24, 3).double())
    relative = ra.transpose(-1, -2) @ rb
    cos = (relative.diagonal(dim1=-2, dim2=-1).sum(-1) - 1.0) / 2.0
    skew = relative - relative.transpose(-1, -2)
    sin = torch.stack([skew[..., 2, 1], skew[..., 0, 2], skew[..., 1, 0]], -1).norm(dim=-1) / 2
    return torch.atan2(sin, cos)


@dataclass(frozen=True)
class ResultDifference:
    """Largest differences between two :class:`FitResult` of the same batch.

    Attributes:
        pose_rad: largest per-joint rotation angle between the poses.
        joints_m: largest joint distance, metres.
        betas: largest absolute shape difference.
        transl_m: largest translation difference, metres.
        keypoints2d_px: largest projected keypoint distance, pixels.
        success_agreement: fraction of samples where ``success`` is the same.
    """

    pose_rad: float
    joints_m: float
    betas: float
    transl_m: float
    keypoints2d_px: float
    success_agreement: float


def compare_results(a: FitResult, b: FitResult) -> ResultDifference:
    """Differences between fits ``a`` and ``b`` of the same inputs (any devices)."""
    a, b = a.to("cpu"), b.to("cpu")
    if len(a) != len(b):
        raise ValueError(f"results have {len(a)} and {len(b)} fits; compare the same batch")
    if len(a) == 0:
        return ResultDifference(0.0, 0.0, 0.0, 0.0, 0.0, 1.0)

    def largest(x: torch.Tensor) -> float:
        return float(x.double().nan_to_num(nan=0.0).max())

    return ResultDifference(
        pose_rad=largest(joint_rotation_angles(a.pose, b.pose)),
        joints_m=largest((a.joints - b.joints).norm(dim=-1)),
        betas=largest((a.betas - b.betas).abs()),
        transl_m=largest((a.transl - b.transl).norm(dim=-1)),
        keypoints2d_px=largest((a.keypoints2d - b.keypoints2d).norm(dim=-1)),
        success_agreement=float((a.success == b.success).double().mean()),
    )
