"""Pinhole projection in the camera optical frame (REP-103: z forward, x right, y down).

The single projection module of the project. Intrinsics are the usual 3x3 matrix
``K = [[fx, s, cx], [0, fy, cy], [0, 0, 1]]`` in pixels (``s``, the skew, is almost always 0),
one per sample or one shared by the batch; a pixel is ``(u, v) = (fx x/z + s y/z + cx,
fy y/z + cy)``, with ``u`` to the right and ``v`` down, exactly as in ``sensor_msgs/CameraInfo``'s
``K`` (distortion is not modelled: rectify or undistort keypoints first).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from lgd_ros.body.errors import IntrinsicsError

__all__ = [
    "DEFAULT_MIN_DEPTH",
    "Intrinsics",
    "check_intrinsics",
    "intrinsics_matrix",
    "project_points",
]

DEFAULT_MIN_DEPTH = 1e-3
"""Depth (m) below which points are clamped before the division, so that points at or behind
the camera give large but finite pixels instead of inf/NaN (their depth gradient is then 0)."""


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels (the ``K`` of a ``sensor_msgs/CameraInfo``)."""

    fx: float
    fy: float
    cx: float
    cy: float

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy"):
            if not math.isfinite(getattr(self, name)):
                raise IntrinsicsError(f"intrinsics {name} must be finite, got {getattr(self, name)}")
        if self.fx <= 0 or self.fy <= 0:
            raise IntrinsicsError(
                f"focal lengths must be positive pixels, got fx={self.fx}, fy={self.fy}"
            )

    @classmethod
    def from_matrix(cls, matrix: torch.Tensor | list[list[float]]) -> Intrinsics:
        """From a 3x3 ``K`` (tensor, array or nested list); the skew must be zero."""
        k = torch.as_tensor(matrix, dtype=torch.float64)
        check_intrinsics(k)
        if k[0, 1] != 0:
            raise IntrinsicsError(f"Intrinsics has no skew; K[0, 1] = {float(k[0, 1])}")
        return cls(float(k[0, 0]), float(k[1, 1]), float(k[0, 2]), float(k[1, 2]))

    @classmethod
    def from_field_of_view(cls, width: int, height: int, horizontal_fov_deg: float) -> Intrinsics:
        """Square pixels, principal point at the image centre, given horizontal field of view."""
        if not 0 < horizontal_fov_deg < 180:
            raise IntrinsicsError(f"horizontal field of view must be in (0, 180) degrees, "
                                  f"got {horizontal_fov_deg}")
        if width <= 0 or height <= 0:
            raise IntrinsicsError(f"image size must be positive, got {width}x{height}")
        focal = 0.5 * width / math.tan(math.radians(horizontal_fov_deg) / 2)
        return cls(focal, focal, 0.5 * width, 0.5 * height)

    def as_matrix(
        self, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """``[3, 3]`` tensor ``K``."""
        return intrinsics_matrix(self.fx, self.fy, self.cx, self.cy, dtype=dtype, device=device)


def intrinsics_matrix(
    fx: float | torch.Tensor,
    fy: float | torch.Tensor,
    cx: float | torch.Tensor,
    cy: float | torch.Tensor,
    *,
    dtype: torch.dtype | None = None,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Build ``K`` from focal lengths and principal point.

    Scalars give ``[3, 3]``; tensors of shape ``[B]`` give ``[B, 3, 3]`` (per-sample cameras).
    ``dtype``/``device`` default to those of the first tensor argument (float32 / CPU for
    plain floats). Degenerate values raise :class:`IntrinsicsError`.
    """
    first = next((v for v in (fx, fy, cx, cy) if isinstance(v, torch.Tensor)), None)
    if dtype is None:
        dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    if device is None and first is not None:
        device = first.device
    values = [torch.as_tensor(v, dtype=dtype, device=device) for v in (fx, fy, cx, cy)]
    shapes = {tuple(v.shape) for v in values} - {()}
    if len(shapes) > 1:
        raise IntrinsicsError(
            f"fx, fy, cx, cy must be scalars or tensors of one shape [B], got shapes "
            f"{[tuple(v.shape) for v in values]}"
        )
    shape = torch.Size(shapes.pop() if shapes else ())
    fx_t, fy_t, cx_t, cy_t = (v.expand(shape) for v in values)
    if fx_t.dim() > 1:
        raise IntrinsicsError(f"fx, fy, cx, cy must be scalars or [B], got shape {tuple(shape)}")
    zero, one = torch.zeros_like(fx_t), torch.ones_like(fx_t)
    matrix = torch.stack([fx_t, zero, cx_t, zero, fy_t, cy_t, zero, zero, one], dim=-1)
    matrix = matrix.reshape(*shape, 3, 3)
    check_intrinsics(matrix)
    return matrix


def check_intrinsics(intrinsics: torch.Tensor, batch_size: int | None = None) -> None:
    """Raise :class:`IntrinsicsError` unless ``intrinsics`` is a usable ``[3, 3]`` or ``[B, 3, 3]``.

    Usable: finite, ``fx > 0`` and ``fy > 0``, last row ``(0, 0, 1)`` and zeros below the
    diagonal. With ``batch_size`` given, a batched ``K`` must have that many entries. This
    reads the values (a host sync on GPU), so call it once per input, not inside loops.
    """
    if not isinstance(intrinsics, torch.Tensor):
        raise IntrinsicsError(f"intrinsics must be a torch.Tensor, got {type(intrinsics).__name__}")
    if intrinsics.shape[-2:] != (3, 3) or intrinsics.dim() not in (2, 3):
        raise IntrinsicsError(
            f"intrinsics must have shape [3, 3] or [B, 3, 3], got {tuple(intrinsics.shape)}"
        )
    if batch_size is not None and intrinsics.dim() == 3 and intrinsics.shape[0] != batch_size:
        raise IntrinsicsError(
            f"intrinsics batch {intrinsics.shape[0]} does not match the {batch_size} samples"
        )
    k = intrinsics.detach().reshape(-1, 3, 3)
    if not bool(torch.isfinite(k).all()):
        raise IntrinsicsError("intrinsics contain NaN or inf")
    fx, fy = k[:, 0, 0], k[:, 1, 1]
    if bool((fx <= 0).any()) or bool((fy <= 0).any()):
        raise IntrinsicsError(
            f"focal lengths must be positive pixels, got fx={fx.tolist()}, fy={fy.tolist()}"
        )
    expected_zeros = torch.stack([k[:, 1, 0], k[:, 2, 0], k[:, 2, 1]], dim=-1)
    if bool((expected_zeros != 0).any()) or bool((k[:, 2, 2] != 1).any()):
        raise IntrinsicsError(
            "intrinsics must be upper triangular with last row (0, 0, 1), got "
            f"{k[0].tolist()}" + (" (first sample)" if k.shape[0] > 1 else "")
        )


def project_points(
    points_cam: torch.Tensor,
    intrinsics: torch.Tensor,
    *,
    min_depth: float = DEFAULT_MIN_DEPTH,
) -> torch.Tensor:
    """Project camera-frame points to pixels.

    Args:
        points_cam: ``[B, N, 3]`` points in the camera optical frame, metres.
        intrinsics: ``[3, 3]`` shared or ``[B, 3, 3]`` per-sample ``K`` (same dtype/device).
        min_depth: depths below this are clamped (see :data:`DEFAULT_MIN_DEPTH`).

    Returns:
        ``[B, N, 2]`` pixel coordinates ``(u, v)``.

    Only shapes are checked here (cheap, no host sync); validate values once with
    :func:`check_intrinsics`.
    """
    if points_cam.dim() != 3 or points_cam.shape[-1] != 3:
        raise IntrinsicsError(
            f"points_cam must have shape [B, N, 3], got {tuple(points_cam.shape)}"
        )
    if intrinsics.shape[-2:] != (3, 3) or intrinsics.dim() not in (2, 3) or (
        intrinsics.dim() == 3 and intrinsics.shape[0] not in (1, points_cam.shape[0])
    ):
        raise IntrinsicsError(
            f"intrinsics must have shape [3, 3] or [B, 3, 3] with B = {points_cam.shape[0]}, "
            f"got {tuple(intrinsics.shape)}"
        )
    depth = points_cam[..., 2:].clamp(min=min_depth)  # [B, N, 1]
    normalised = points_cam[..., :2] / depth  # (x/z, y/z)
    k = intrinsics if intrinsics.dim() == 3 else intrinsics.unsqueeze(0)
    # [u, v] = K[:2, :2] @ [x/z, y/z] + K[:2, 2]  (K[:2, :2] holds fx, skew and fy)
    pixels: torch.Tensor = normalised @ k[:, :2, :2].transpose(1, 2) + k[:, None, :2, 2]
    return pixels
