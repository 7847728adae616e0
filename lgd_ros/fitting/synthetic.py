"""Synthetic training and evaluation pairs: MoCap poses seen by random pinhole cameras.

Each sample takes a corpus pose (y-up world, upright person), a random body shape, a
random camera (field of view, image size, principal point, elevation, roll, the person's
heading) and a random image position and size of the person -- sometimes near the border
and partly out of frame. Its keypoints are projected with the body model's keypoint layer
and degraded like a detector's output: pixel noise growing with the person's size and
with lower confidence, dropped keypoints (confidence 0), a few outliers, and keypoints
outside the image removed.

All randomness comes from an explicit ``torch.Generator`` so a run is reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch

from lgd_ros.body import KeypointLayer
from lgd_ros.body.camera import project_points
from lgd_ros.body.rotations import (
    axis_angle_to_matrix,
    euler_to_matrix,
    matrix_to_axis_angle,
)
from lgd_ros.body.skeleton import mirror_pose
from lgd_ros.data import augment_poses
from lgd_ros.fitting.observation import KeypointObservation
from lgd_ros.fitting.state import BodyState, matrix_to_rotation_6d, pelvis_to_root

__all__ = [
    "SamplerConfig",
    "SyntheticBatch",
    "frame_run_indices",
    "perturbed_state",
    "sample_batch",
    "sample_frame_runs",
]


@dataclass(frozen=True)
class SamplerConfig:
    """Ranges of the random cameras, shapes and detector degradations.

    Angles in degrees, sizes as fractions of the image. Defaults cover robot and handheld
    cameras (35-100 degree field of view) and people from 15% to 100% of the image height.
    """

    betas_std: float = 1.0
    betas_clip: float = 3.0
    hfov_deg: tuple[float, float] = (35.0, 100.0)
    image_width: tuple[int, int] = (320, 1920)
    aspects: tuple[float, ...] = (0.5625, 0.75, 1.0)
    principal_jitter: float = 0.03
    elevation_deg: tuple[float, float] = (-25.0, 50.0)
    roll_deg: float = 12.0
    person_height_fraction: tuple[float, float] = (0.15, 1.0)
    pelvis_u_range: tuple[float, float] = (0.05, 0.95)
    pelvis_v_range: tuple[float, float] = (0.15, 0.85)
    mirror_probability: float = 0.5
    noise_box_fraction: tuple[float, float] = (0.0, 0.015)
    noise_px: tuple[float, float] = (0.0, 1.5)
    confidence_range: tuple[float, float] = (0.35, 1.0)
    dropout_sample_probability: float = 0.5
    dropout_rate: tuple[float, float] = (0.0, 0.3)
    outlier_rate: float = 0.02
    min_visible: int = 6
    augment: bool = True
    recombine_probability: float = 0.3
    perturb_std_deg: float = 6.0


@dataclass(frozen=True)
class SyntheticBatch:
    """One batch of detector-like inputs and their ground truth (camera frame, metres).

    Attributes:
        keypoints_px: ``[B, K, 2]`` observed pixels (0 where dropped).
        confidence: ``[B, K]`` observed confidence (0 = missing).
        intrinsics: ``[B, 3, 3]``.
        image_size: ``[B, 2]`` (width, height) pixels.
        pose: ``[B, 72]`` ground-truth pose, global orientation in the camera frame.
        betas: ``[B, num_betas]``.
        transl: ``[B, 3]`` SMPL translation.
        pelvis: ``[B, 3]`` pelvis position.
        joints: ``[B, 24, 3]``; keypoints3d: ``[B, K, 3]``.
        clean_px: ``[B, K, 2]`` noise-free projections of all keypoints.
        usable: ``[B]`` bool, at least ``min_visible`` keypoints observed.
    """

    keypoints_px: torch.Tensor
    confidence: torch.Tensor
    intrinsics: torch.Tensor
    image_size: torch.Tensor
    pose: torch.Tensor
    betas: torch.Tensor
    transl: torch.Tensor
    pelvis: torch.Tensor
    joints: torch.Tensor
    keypoints3d: torch.Tensor
    clean_px: torch.Tensor
    usable: torch.Tensor

    def select(self, index: slice | torch.Tensor) -> SyntheticBatch:
        """The samples ``index`` picks (a slice, indices or a bool mask)."""
        return SyntheticBatch(*(getattr(self, f.name)[index] for f in fields(self)))

    @classmethod
    def concatenate(cls, parts: list[SyntheticBatch]) -> SyntheticBatch:
        """One batch of ``parts``' samples, in order."""
        return cls(*(torch.cat([getattr(p, f.name) for p in parts])
                     for f in fields(cls)))


def _uniform(lo: float, hi: float, shape: tuple[int, ...], gen: torch.Generator,
             dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=dtype, device=device)


def sample_batch(
    poses: torch.Tensor,
    layer: KeypointLayer,
    batch_size: int,
    gen: torch.Generator,
    config: SamplerConfig = SamplerConfig(),
    *,
    num_betas: int = 10,
    indices: torch.Tensor | None = None,
    clean: bool = False,
    share_view: bool = False,
    view_groups: torch.Tensor | None = None,
) -> SyntheticBatch:
    """Draw ``batch_size`` synthetic samples.

    Args:
        poses: ``[N, 72]`` corpus poses (root orientation in a y-up world, upright).
        layer: the body model's keypoint layer of the trained format.
        gen: random generator (on the poses' device).
        indices: ``[B]`` pose indices to use instead of random ones (evaluation).
        clean: no noise, dropout or outliers (only out-of-image keypoints are removed),
            and no pose augmentation.
        share_view: one camera, body shape and placement for the whole batch (a video
            sequence: pass consecutive poses as ``indices``); the person's depth is set
            from the first pose.
        view_groups: ``[B]`` int64 group of every sample, numbered from 0: samples of one
            group share camera, body shape, mirroring and placement (depth from the
            group's first sample), as ``share_view`` does for the whole batch. Training
            uses it for runs of neighbouring frames (:func:`sample_frame_runs`). Pose
            augmentation is off for grouped samples, since it would differ between the
            frames of a group.
    """
    dtype, device = poses.dtype, poses.device
    b = batch_size
    if share_view:
        view_groups = torch.zeros(b, dtype=torch.long, device=device)
    if view_groups is not None and view_groups.shape != (b,):
        raise ValueError(f"view_groups must be [{b}], got {tuple(view_groups.shape)}")
    num_views = int(view_groups.max()) + 1 if view_groups is not None else b
    # Index of each group's first sample: its shape and depth are the group's.
    first = _first_of_group(view_groups, num_views) if view_groups is not None else None

    def per_view(values: torch.Tensor) -> torch.Tensor:
        """Spread ``[num_views, ...]`` draws over the batch."""
        return values if view_groups is None else values[view_groups]

    def u(lo: float, hi: float, *shape: int) -> torch.Tensor:
        return _uniform(lo, hi, shape if shape else (b,), gen, dtype, device)

    def view_u(lo: float, hi: float) -> torch.Tensor:
        """Per-sample camera/placement draw (one draw per group of shared views)."""
        return per_view(_uniform(lo, hi, (num_views,), gen, dtype, device))

    if indices is None:
        indices = torch.randint(0, poses.shape[0], (b,), generator=gen, device=device)
    pose = poses[indices].clone()
    flip = per_view(torch.rand(num_views, generator=gen, device=device)
                    < config.mirror_probability)
    pose = torch.where(flip[:, None], mirror_pose(pose), pose)
    if config.augment and not clean and view_groups is None:
        # Limb recombination and joint-limit-aware noise: the corpus has few subjects.
        augmented = augment_poses(pose, gen, recombine_prob=config.recombine_probability,
                                  perturb_std_deg=config.perturb_std_deg,
                                  shape_std=config.betas_std, max_abs_beta=config.betas_clip)
        pose, betas = augmented.poses, augmented.betas[:, :num_betas]
    else:
        betas = (torch.randn(b, num_betas, generator=gen, dtype=dtype, device=device)
                 * config.betas_std).clamp(-config.betas_clip, config.betas_clip)

    # Camera rotation: world y-up -> optical frame (pi about x), the person's heading about
    # world y, then the camera's elevation (about its x) and roll (about its z).
    if view_groups is not None:
        betas = betas[first][view_groups].clone()
    heading = view_u(-math.pi, math.pi)
    zeros = torch.zeros_like(heading)
    world_to_cam = axis_angle_to_matrix(
        torch.tensor([math.pi, 0.0, 0.0], dtype=dtype, device=device)
    ).expand(b, 3, 3)
    yaw = euler_to_matrix(torch.stack([zeros, heading, zeros], dim=-1), "xyz")
    elevation = torch.deg2rad(view_u(*config.elevation_deg))
    roll = torch.deg2rad(view_u(-config.roll_deg, config.roll_deg))
    tilt = euler_to_matrix(torch.stack([elevation, zeros, roll], dim=-1), "xyz")
    root_world = axis_angle_to_matrix(pose[:, :3])
    root_cam = tilt @ world_to_cam @ yaw @ root_world
    pose = torch.cat([matrix_to_axis_angle(root_cam), pose[:, 3:]], dim=-1)

    # Random intrinsics.
    width = per_view(torch.randint(config.image_width[0], config.image_width[1] + 1,
                                   (num_views,), generator=gen, device=device).to(dtype))
    aspect_idx = per_view(torch.randint(0, len(config.aspects), (num_views,), generator=gen,
                                        device=device))
    height = torch.round(width * torch.tensor(config.aspects, dtype=dtype,
                                              device=device)[aspect_idx])
    hfov = torch.deg2rad(view_u(*config.hfov_deg))
    fx = 0.5 * width / torch.tan(0.5 * hfov)
    fy = fx * view_u(0.98, 1.02)
    cx = width * (0.5 + config.principal_jitter * view_u(-1, 1))
    cy = height * (0.5 + config.principal_jitter * view_u(-1, 1))
    intrinsics = torch.zeros(b, 3, 3, dtype=dtype, device=device)
    intrinsics[:, 0, 0], intrinsics[:, 1, 1] = fx, fy
    intrinsics[:, 0, 2], intrinsics[:, 1, 2], intrinsics[:, 2, 2] = cx, cy, 1.0

    # Pose with zero translation, then place the pelvis: depth from the wanted image size.
    zero_t = torch.zeros(b, 3, dtype=dtype, device=device)
    out = layer(pose, betas, zero_t)
    rest_pelvis = out.joints[:, 0]
    rel = out.keypoints - rest_pelvis[:, None]
    extent = (rel[..., :2].amax(dim=1) - rel[..., :2].amin(dim=1)).amax(dim=-1).clamp(min=0.3)
    if view_groups is not None:
        extent = extent[first][view_groups]
    fraction = view_u(*config.person_height_fraction)
    depth = (fy * extent / (fraction * height)).clamp(0.5, 60.0)
    u0 = width * view_u(*config.pelvis_u_range)
    v0 = height * view_u(*config.pelvis_v_range)
    pelvis = torch.stack([depth * (u0 - cx) / fx, depth * (v0 - cy) / fy, depth], dim=-1)
    transl = pelvis - rest_pelvis
    keypoints3d = out.keypoints + transl[:, None]
    joints = out.joints + transl[:, None]
    clean_px = project_points(keypoints3d, intrinsics)

    available = layer.available.to(device)[None, :].expand_as(clean_px[..., 0])
    in_image = (
        (clean_px[..., 0] >= 0) & (clean_px[..., 0] < width[:, None])
        & (clean_px[..., 1] >= 0) & (clean_px[..., 1] < height[:, None])
        & (keypoints3d[..., 2] > 0.1)
    )
    visible = available & in_image
    k = clean_px.shape[1]
    if clean:
        confidence = visible.to(dtype)
        observed = clean_px
    else:
        confidence = u(*config.confidence_range, b, k)
        vis_px = torch.where(visible[..., None], clean_px, torch.zeros_like(clean_px))
        big = 1e9
        lo = torch.where(visible[..., None], vis_px, torch.full_like(vis_px, big)).amin(1)
        hi = torch.where(visible[..., None], vis_px, torch.full_like(vis_px, -big)).amax(1)
        box = (hi - lo).amax(-1).clamp(min=1.0, max=1e5)
        sigma = box * u(*config.noise_box_fraction) + u(*config.noise_px)
        # Lower confidence, larger error (what detectors show).
        kp_sigma = sigma[:, None] * (1.5 - confidence) / 1.0
        observed = clean_px + torch.randn(b, k, 2, generator=gen, dtype=dtype,
                                          device=device) * kp_sigma[..., None]
        outlier = torch.rand(b, k, generator=gen, device=device) < config.outlier_rate
        centre = 0.5 * (lo + hi)
        random_pt = centre[:, None] + (torch.rand(b, k, 2, generator=gen, dtype=dtype,
                                                  device=device) - 0.5) * box[:, None, None]
        observed = torch.where(outlier[..., None], random_pt, observed)
        confidence = torch.where(outlier, confidence * 0.6, confidence)
        drop_rate = torch.where(
            torch.rand(b, generator=gen, device=device) < config.dropout_sample_probability,
            u(*config.dropout_rate), torch.zeros(b, dtype=dtype, device=device))
        dropped = torch.rand(b, k, generator=gen, device=device) < drop_rate[:, None]
        visible = visible & ~dropped
        confidence = confidence * visible.to(dtype)
    observed = torch.where(visible[..., None], observed, torch.zeros_like(observed))
    usable = visible.sum(dim=1) >= config.min_visible
    return SyntheticBatch(
        keypoints_px=observed, confidence=confidence, intrinsics=intrinsics,
        image_size=torch.stack([width, height], dim=-1), pose=pose, betas=betas,
        transl=transl, pelvis=pelvis, joints=joints, keypoints3d=keypoints3d,
        clean_px=clean_px, usable=usable,
    )


def frame_run_indices(indices: torch.Tensor, clip_index: torch.Tensor, gen: torch.Generator,
                      length: int, max_gap: int) -> torch.Tensor:
    """``[length, B]`` corpus indices of runs of frames that end at ``indices``.

    Corpus poses of one clip are stored in time order, so a run is what a tracker saw
    before the current frame. Each run goes one way through its clip (forwards or
    backwards: a motion played in reverse is still a motion) in steps of 0..``max_gap``
    frames (0 = a person holding still, > 1 = fast motion or a dropped frame), and stops
    at the clip's ends.
    """
    if length < 1:
        raise ValueError(f"a run needs at least one frame, got length {length}")
    n = clip_index.shape[0]
    direction = torch.where(torch.rand(indices.shape, generator=gen, device=indices.device)
                            < 0.5, -1, 1)
    runs = [indices]
    for _ in range(length - 1):
        gap = torch.randint(0, max_gap + 1, indices.shape, generator=gen, device=indices.device)
        candidate = (runs[-1] - direction * gap).clamp(0, n - 1)
        same_clip = clip_index[candidate] == clip_index[indices]
        runs.append(torch.where(same_clip, candidate, runs[-1]))
    return torch.stack(runs[::-1])


def sample_frame_runs(
    poses: torch.Tensor,
    clip_index: torch.Tensor,
    layer: KeypointLayer,
    batch_size: int,
    gen: torch.Generator,
    config: SamplerConfig = SamplerConfig(),
    *,
    length: int = 2,
    num_betas: int = 10,
    max_gap: int = 2,
    indices: torch.Tensor | None = None,
) -> list[SyntheticBatch]:
    """Views of ``length`` neighbouring frames per sample, in time order (current last).

    The frames of a sample share camera, shape and placement, each with its own detector
    noise: what a tracker sees on consecutive frames. Training warm-starts the current
    frame from the network's own fits of the earlier ones (see
    :mod:`lgd_ros.fitting.train`).
    """
    if indices is None:
        indices = torch.randint(0, poses.shape[0], (batch_size,), generator=gen,
                                device=poses.device)
    runs = frame_run_indices(indices, clip_index.to(poses.device), gen, length, max_gap)
    groups = torch.arange(batch_size, device=poses.device).repeat(length)
    views = sample_batch(poses, layer, length * batch_size, gen, config, num_betas=num_betas,
                         indices=runs.flatten(), view_groups=groups)
    return [views.select(slice(i * batch_size, (i + 1) * batch_size)) for i in range(length)]


def _first_of_group(groups: torch.Tensor, num_groups: int) -> torch.Tensor:
    """``[num_groups]`` index of each group's first sample (groups must all be present)."""
    order = torch.arange(groups.shape[0], device=groups.device)
    first = torch.full((num_groups,), groups.shape[0], dtype=torch.long, device=groups.device)
    return first.scatter_reduce(0, groups, order, reduce="amin")


def perturbed_state(
    batch: SyntheticBatch, obs: KeypointObservation, gen: torch.Generator,
    *, scale: torch.Tensor | float = 1.0,
) -> BodyState:
    """A warm-start guess near the truth, as a previous frame's fit would give.

    Per-sample ``scale`` multiplies the perturbations: body joints ~0.12 rad, global
    orientation ~0.1 rad, betas 0.3, pelvis depth 6% and 4 cm laterally at scale 1.
    """
    pose = batch.pose
    b = pose.shape[0]
    dtype, device = pose.dtype, pose.device
    s = torch.as_tensor(scale, dtype=dtype, device=device).reshape(-1, 1).expand(b, 1)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=gen, dtype=dtype, device=device)

    root_rot = axis_angle_to_matrix(randn(b, 3) * 0.1 * s) @ axis_angle_to_matrix(pose[:, :3])
    body_pose = pose[:, 3:] + randn(b, 69) * 0.12 * s
    betas = batch.betas + randn(*batch.betas.shape) * 0.3 * s
    pelvis = batch.pelvis.clone()
    depth = pelvis[:, 2:3] * (1.0 + 0.06 * s * randn(b, 1))
    lateral = pelvis[:, :2] / pelvis[:, 2:3] * depth + 0.04 * s * randn(b, 2)
    pelvis = torch.cat([lateral, depth.clamp(min=0.3)], dim=-1)
    return BodyState(
        orient6d=matrix_to_rotation_6d(root_rot), body_pose=body_pose, betas=betas,
        root=pelvis_to_root(pelvis, obs),
    )
