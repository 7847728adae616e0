"""Camera- and scale-independent keypoint observations.

The networks must work for any pinhole camera and any person size in the image, so
pixel keypoints are normalised twice before they reach a network:

1. by the intrinsics: ``x_n = (u - cx) / fx``, ``y_n = (v - cy) / fy`` -- the tangent of
   the viewing ray, independent of resolution and focal length;
2. by the person's 2D box in those coordinates: ``k = (x_n - c) / s`` with ``c`` the box
   centre ``[B, 2]`` and ``s`` the longer box side ``[B]``, so keypoints lie in about
   ``[-0.5, 0.5]``.

Everything is computed with masked tensor operations (no Python branching on data) so
the fitting loop stays exportable.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["MIN_BOX_SCALE", "KeypointObservation", "normalize_keypoints"]

#: Smallest accepted box side in normalised image coordinates (tan of ~0.06 degrees);
#: a box smaller than this means all keypoints coincide and nothing can be fitted.
MIN_BOX_SCALE: float = 1e-3


@dataclass(frozen=True)
class KeypointObservation:
    """Normalised 2D keypoints of a batch of people.

    Attributes:
        rays: ``[B, K, 2]`` normalised image coordinates ``((u-cx)/fx, (v-cy)/fy)``;
            zero where the keypoint is missing.
        weights: ``[B, K]`` fitting weight per keypoint: confidence, times zero where the
            keypoint is missing, non-finite or not produced by the body model.
        box_centre: ``[B, 2]`` centre of the weighted keypoints' box in normalised coordinates.
        box_scale: ``[B]`` longer side of that box (>= ``MIN_BOX_SCALE``).
        num_valid: ``[B]`` number of keypoints with a positive weight.
    """

    rays: torch.Tensor
    weights: torch.Tensor
    box_centre: torch.Tensor
    box_scale: torch.Tensor
    num_valid: torch.Tensor

    @property
    def box_keypoints(self) -> torch.Tensor:
        """``[B, K, 2]`` keypoints in box units ``(rays - c) / s``, zero where missing."""
        centred = (self.rays - self.box_centre[:, None, :]) / self.box_scale[:, None, None]
        return centred * (self.weights[..., None] > 0).to(centred.dtype)


def normalize_keypoints(
    keypoints_px: torch.Tensor,
    confidence: torch.Tensor,
    intrinsics: torch.Tensor,
    available: torch.Tensor,
) -> KeypointObservation:
    """Turn pixel keypoints into a :class:`KeypointObservation`.

    Non-finite keypoints or confidences count as missing (weight 0); negative
    confidences are treated as 0 and confidences above 1 are kept (they are weights).

    Args:
        keypoints_px: ``[B, K, 2]`` pixel coordinates (u right, v down).
        confidence: ``[B, K]`` detector confidence.
        intrinsics: ``[B, 3, 3]`` pinhole matrices (already validated, finite, fx, fy > 0).
        available: ``[K]`` bool, False where the body model cannot produce the keypoint.

    Returns:
        The observation; ``num_valid`` tells the caller whether a fit is possible.
    """
    finite = torch.isfinite(keypoints_px).all(dim=-1) & torch.isfinite(confidence)
    conf = torch.where(finite, confidence, torch.zeros_like(confidence)).clamp(min=0.0)
    weights = conf * available.to(conf.dtype)[None, :]
    valid = weights > 0
    safe_px = torch.where(valid[..., None], keypoints_px, torch.zeros_like(keypoints_px))

    fx = intrinsics[:, 0, 0][:, None]
    fy = intrinsics[:, 1, 1][:, None]
    skew = intrinsics[:, 0, 1][:, None]
    cx = intrinsics[:, 0, 2][:, None]
    cy = intrinsics[:, 1, 2][:, None]
    # Invert u = fx x + skew y + cx, v = fy y + cy.
    y_n = (safe_px[..., 1] - cy) / fy
    x_n = (safe_px[..., 0] - cx - skew * y_n) / fx
    rays = torch.stack([x_n, y_n], dim=-1) * valid[..., None].to(safe_px.dtype)

    big = torch.finfo(rays.dtype).max / 4
    lo = torch.where(valid[..., None], rays, torch.full_like(rays, big)).amin(dim=1)
    hi = torch.where(valid[..., None], rays, torch.full_like(rays, -big)).amax(dim=1)
    num_valid = valid.sum(dim=1)
    has_any = (num_valid > 0)[:, None]
    lo = torch.where(has_any, lo, torch.zeros_like(lo))
    hi = torch.where(has_any, hi, torch.zeros_like(hi))
    centre = 0.5 * (lo + hi)
    scale = (hi - lo).amax(dim=1).clamp(min=MIN_BOX_SCALE)
    return KeypointObservation(
        rays=rays, weights=weights, box_centre=centre, box_scale=scale, num_valid=num_valid
    )
