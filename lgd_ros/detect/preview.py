"""A rough body placement for pictures, for when no fitter is at hand.

Not a fit: the body keeps a fixed, plain pose (arms lowered, upright) and only its heading
(one of a few turns about the vertical axis) and its position are chosen to match the
detected keypoints. Used by ``python -m lgd_ros.detect`` when no trained fitter for the
detector's format is installed, so that overlays show a body where the person is. The real
thing is :class:`lgd_ros.fitting.Fitter`.

Position: with the body's shape and orientation fixed, its keypoints in the camera frame are
``X_i + t`` and the pinhole model ``u_i = fx (X_i,x + t_x) / (X_i,z + t_z) + cx`` becomes,
multiplying out the depth, *linear* in the translation ``t``:

    fx t_x - (u_i - cx) t_z = (u_i - cx) X_i,z - fx X_i,x
    fy t_y - (v_i - cy) t_z = (v_i - cy) X_i,z - fy X_i,y

so ``t`` is a (confidence-weighted) linear least-squares solution, exact for noise-free
keypoints. The heading with the smallest reprojection error wins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lgd_ros.detect.errors import DetectError
from lgd_ros.detect.types import Detection

if TYPE_CHECKING:
    from lgd_ros.body import BodyModel

__all__ = ["RoughPlacement", "rough_body_placement", "solve_translation"]

_ARM_DROP_RAD = 1.2  # shoulders turned ~70 degrees down from the T-pose
_HEADINGS_DEG = (0.0, 45.0, 90.0, 135.0, 180.0, -135.0, -90.0, -45.0)
_MIN_CONFIDENCE = 0.5


@dataclass(frozen=True)
class RoughPlacement:
    """Result of :func:`rough_body_placement`.

    Attributes:
        pose: ``[72]`` axis-angle SMPL pose used (global orientation first, camera frame).
        transl: ``[3]`` translation, metres, camera frame.
        vertices: ``[V, 3]`` mesh vertices in the camera frame.
        faces: ``[F, 3]`` triangles.
        mean_error_px: confidence-weighted mean reprojection error of the used keypoints.
    """

    pose: np.ndarray
    transl: np.ndarray
    vertices: np.ndarray
    faces: np.ndarray
    mean_error_px: float


def solve_translation(points_cam: np.ndarray, pixels: np.ndarray, weights: np.ndarray,
                      intrinsics: np.ndarray) -> np.ndarray:
    """Translation ``t`` [3] that best maps ``points_cam + t`` onto ``pixels`` (module doc).

    Args:
        points_cam: ``[N, 3]`` points (orientation already applied), metres.
        pixels: ``[N, 2]`` target pixels.
        weights: ``[N]`` non-negative weights; at least two points must have weight > 0.
        intrinsics: ``[3, 3]`` camera matrix (no skew).

    Raises:
        DetectError: fewer than two weighted points (the depth is then undetermined).
    """
    use = weights > 0
    if int(use.sum()) < 2:
        raise DetectError(
            f"placing a body needs at least 2 confident keypoints, got {int(use.sum())}"
        )
    fx, fy, cx, cy = intrinsics[0, 0], intrinsics[1, 1], intrinsics[0, 2], intrinsics[1, 2]
    x, u = points_cam[use], pixels[use]
    w = np.sqrt(weights[use])[:, None]
    du, dv = u[:, 0] - cx, u[:, 1] - cy
    zeros = np.zeros_like(du)
    rows_u = np.stack([np.full_like(du, fx), zeros, -du], axis=1)
    rows_v = np.stack([zeros, np.full_like(dv, fy), -dv], axis=1)
    rhs_u = du * x[:, 2] - fx * x[:, 0]
    rhs_v = dv * x[:, 2] - fy * x[:, 1]
    a = np.concatenate([rows_u * w, rows_v * w])
    b = np.concatenate([rhs_u * w[:, 0], rhs_v * w[:, 0]])
    solution, *_ = np.linalg.lstsq(a, b, rcond=None)
    return solution


def rough_body_placement(body_model: BodyModel, detection: Detection,
                         intrinsics: np.ndarray) -> RoughPlacement:
    """Place ``body_model`` (mean shape, arms lowered) where ``detection`` is.

    Raises:
        DetectError: too few confident keypoints that the body model can produce.
    """
    import torch

    from lgd_ros.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
    from lgd_ros.body.skeleton import SMPL_JOINT_NAMES

    dtype = body_model.dtype
    layer = body_model.keypoint_layer(detection.format)
    available = layer.available.cpu().numpy()
    weights = np.where(available & (detection.confidence >= _MIN_CONFIDENCE),
                       detection.confidence, 0.0).astype(np.float64)
    pixels = detection.keypoints_px.astype(np.float64)
    k = np.asarray(intrinsics, dtype=np.float64)

    poses = []
    upright = axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0], dtype=torch.float64))
    for heading in _HEADINGS_DEG:
        # Turn about the body's vertical axis, then stand it up in the camera frame (y down).
        turn = axis_angle_to_matrix(
            torch.tensor([0.0, math.radians(heading), 0.0], dtype=torch.float64))
        pose = torch.zeros(72, dtype=torch.float64)
        pose[:3] = matrix_to_axis_angle(upright @ turn)
        for name, sign in (("left_shoulder", -1.0), ("right_shoulder", 1.0)):
            joint = SMPL_JOINT_NAMES.index(name)
            pose[3 * joint + 2] = sign * _ARM_DROP_RAD  # about SMPL's forward (z) axis
        poses.append(pose)
    pose_batch = torch.stack(poses).to(dtype=dtype, device=body_model.device)
    betas = torch.zeros(len(poses), 10, dtype=dtype, device=body_model.device)
    zero = torch.zeros(len(poses), 3, dtype=dtype, device=body_model.device)
    with torch.no_grad():
        keypoints = layer(pose_batch, betas, zero).keypoints.double().cpu().numpy()

    best: tuple[float, int, np.ndarray] | None = None
    for index, points in enumerate(keypoints):
        transl = solve_translation(points, pixels, weights, k)
        error = _mean_error(points + transl, pixels, weights, k)
        if transl[2] + points[:, 2].min() > 0 and (best is None or error < best[0]):
            best = (error, index, transl)
    if best is None:
        raise DetectError("no heading places the body in front of the camera")
    error, index, transl = best
    with torch.no_grad():
        vertices = body_model(
            pose_batch[index:index + 1], betas[:1],
            torch.as_tensor(transl[None], dtype=dtype, device=body_model.device),
        ).vertices[0]
    return RoughPlacement(
        pose=pose_batch[index].double().cpu().numpy(),
        transl=transl,
        vertices=vertices.double().cpu().numpy(),
        faces=body_model.faces.cpu().numpy(),
        mean_error_px=error,
    )


def _mean_error(points_cam: np.ndarray, pixels: np.ndarray, weights: np.ndarray,
                intrinsics: np.ndarray) -> float:
    import torch

    from lgd_ros.body.camera import project_points

    projected = project_points(torch.from_numpy(points_cam[None]),
                               torch.from_numpy(intrinsics))[0].numpy()
    distance = np.linalg.norm(projected - pixels, axis=1)
    return float((weights * distance).sum() / max(weights.sum(), 1e-12))
