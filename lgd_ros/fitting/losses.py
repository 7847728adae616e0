"""Training loss of the learned fitter, summed over all stages (init and every step).

Per stage (all L1, as in the reference, which makes the nets robust to the few samples
with very wrong guesses):

* 2D: reprojection of every keypoint the model produces, in box units, against the
  noise-free projection (not the noisy input);
* 3D: pelvis-relative joints and keypoints, metres;
* pose: rotation matrices of the global orientation and of the 23 body joints
  (matrices avoid the axis-angle wrap at pi);
* shape: betas;
* root: the box-relative pelvis parameters ``(zeta, o)`` -- log-depth error and image
  offset, both scale-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lgd_ros.body.rotations import axis_angle_to_matrix
from lgd_ros.fitting.objective import normalized_projection, pose_body
from lgd_ros.fitting.observation import KeypointObservation
from lgd_ros.fitting.state import BodyState, pelvis_to_root
from lgd_ros.fitting.synthetic import SyntheticBatch

__all__ = ["GroundTruth", "LossWeights", "ground_truth", "stage_loss"]


@dataclass(frozen=True)
class LossWeights:
    """Weights of the loss terms (the reference used 0.3 / 0.3 / 1 / 1 on its scales)."""

    keypoints2d: float = 1.0
    joints3d: float = 1.0
    pose: float = 0.5
    betas: float = 0.1
    root: float = 0.5


@dataclass(frozen=True)
class GroundTruth:
    """Targets of one batch (see :func:`ground_truth`)."""

    rays: torch.Tensor  # [B, K, 2] clean normalised projections
    ray_mask: torch.Tensor  # [B, K] keypoint produced by the model and in front of the camera
    rel_points: torch.Tensor  # [B, 24 + K, 3] pelvis-relative joints and keypoints
    rotations: torch.Tensor  # [B, 24, 3, 3]
    betas: torch.Tensor  # [B, num_betas]
    root: torch.Tensor  # [B, 3]
    sample_mask: torch.Tensor  # [B] float, 1 for usable samples


def ground_truth(batch: SyntheticBatch, obs: KeypointObservation,
                 available: torch.Tensor) -> GroundTruth:
    """Targets for ``batch`` in the fitter's parameterisation (root relative to ``obs``'s box)."""
    b = batch.pose.shape[0]
    points = torch.cat([batch.joints, batch.keypoints3d], dim=1)
    return GroundTruth(
        rays=normalized_projection(batch.keypoints3d),
        ray_mask=(available[None, :] & (batch.keypoints3d[..., 2] > 0.1)).to(batch.pose.dtype),
        rel_points=points - batch.pelvis[:, None],
        rotations=axis_angle_to_matrix(batch.pose.reshape(b, 24, 3)),
        betas=batch.betas,
        root=pelvis_to_root(batch.pelvis, obs),
        sample_mask=batch.usable.to(batch.pose.dtype),
    )


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean of ``values [B, ...]`` over samples where ``mask [B]`` is 1."""
    per_sample = values.reshape(values.shape[0], -1).mean(dim=1)
    return (per_sample * mask).sum() / mask.sum().clamp(min=1.0)


def stage_loss(
    layer: torch.nn.Module,
    state: BodyState,
    obs: KeypointObservation,
    gt: GroundTruth,
    weights: LossWeights,
    *,
    sample_mask: torch.Tensor | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Weighted loss of one stage and its terms (detached, for logging).

    ``sample_mask [B]`` restricts the loss to some samples (e.g. only cold-started ones
    for the init stage); it is multiplied with ``gt.sample_mask``.
    """
    mask = gt.sample_mask if sample_mask is None else gt.sample_mask * sample_mask
    posed = pose_body(layer, state, obs)
    b = state.body_pose.shape[0]
    proj = normalized_projection(posed.keypoints)
    err2d = ((proj - gt.rays).abs().sum(-1) / obs.box_scale[:, None]) * gt.ray_mask
    l2d = _masked_mean(err2d.sum(1) / gt.ray_mask.sum(1).clamp(min=1.0), mask)
    points = torch.cat([posed.joints, posed.keypoints], dim=1) - posed.pelvis[:, None]
    l3d = _masked_mean((points - gt.rel_points).abs(), mask)
    rot_body = axis_angle_to_matrix(state.body_pose.reshape(b, 23, 3))
    rotations = torch.cat([posed.rotation[:, None], rot_body], dim=1)
    lpose = _masked_mean((rotations - gt.rotations).abs(), mask)
    lbetas = _masked_mean((state.betas - gt.betas).abs(), mask)
    lroot = _masked_mean((state.root - gt.root).abs(), mask)
    total = (weights.keypoints2d * l2d + weights.joints3d * l3d + weights.pose * lpose
             + weights.betas * lbetas + weights.root * lroot)
    terms = {"2d": l2d, "3d": l3d, "pose": lpose, "betas": lbetas, "root": lroot}
    return total, {k: v.detach() for k, v in terms.items()}
