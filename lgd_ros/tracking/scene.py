"""Synthetic scenes of people walking in front of a camera, with known ground truth.

Used by the node's tests and benchmarks (and anything else that needs keypoint
sequences with true bodies): each person replays a held-out corpus clip (never
trained on) while walking sideways at a fixed depth, projected by a pinhole
camera to a keypoint format, optionally with pixel noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lgd_ros.body import BodyModel
from lgd_ros.body.camera import project_points
from lgd_ros.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from lgd_ros.tracking.observations import PersonObservation

# SMPL canonical frame (y up, facing +z) -> camera optical frame (y down, z forward):
# a rotation by pi about x turns an upright person to face the camera.
_UPRIGHT_FACING_CAMERA = torch.tensor([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]], dtype=torch.float64)


@dataclass(frozen=True)
class WalkingPerson:
    """Starts at lateral position ``x0`` (m, camera frame), walks at ``speed`` m/s along x."""

    x0: float
    depth: float
    speed: float
    clip_offset: int = 0
    betas_seed: int = 0


@dataclass(frozen=True)
class SceneFrame:
    stamp: float
    people: list[PersonObservation]
    true_pose: np.ndarray  # [P, 72]
    true_betas: np.ndarray  # [P, 10]
    true_transl: np.ndarray  # [P, 3]
    true_joints: np.ndarray  # [P, 24, 3]


def default_intrinsics(width: int = 640, height: int = 480, focal: float = 500.0) -> np.ndarray:
    return np.array([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1.0]])


def _val_clip_poses(min_frames: int) -> torch.Tensor:
    from lgd_ros.data import load_pose_corpus

    corpus = load_pose_corpus()
    val_clips = [i for i, c in enumerate(corpus.clips) if c.split == "val"]
    for clip in val_clips:
        mask = corpus.clip_index == clip
        if int(mask.sum()) >= min_frames:
            order = torch.argsort(corpus.frame_index[mask])
            return corpus.poses[mask][order]
    poses = corpus.val_poses()
    return poses.repeat((min_frames // len(poses)) + 1, 1)


def walking_scene(people: list[WalkingPerson], frames: int, fps: float = 30.0,
                  fmt: str = "coco17", intrinsics: np.ndarray | None = None,
                  noise_px: float = 0.0, body_model: BodyModel | None = None,
                  seed: int = 0, start_stamp: float = 100.0) -> list[SceneFrame]:
    """Frames of ``people`` walking; keypoints in ``fmt`` with confidence 0.9 (0 where unavailable)."""
    model = body_model or BodyModel.load()
    k = torch.as_tensor(default_intrinsics() if intrinsics is None else intrinsics, dtype=model.dtype)
    layer = model.keypoint_layer(fmt)
    generator = torch.Generator().manual_seed(seed)
    clip = _val_clip_poses(frames + max((p.clip_offset for p in people), default=0))
    betas = torch.stack([torch.randn(10, generator=torch.Generator().manual_seed(p.betas_seed)) * 0.8
                         for p in people]).to(model.dtype)
    out = []
    for index in range(frames):
        t = index / fps
        poses = clip[[index + p.clip_offset for p in people]].to(torch.float64).clone()
        root = _UPRIGHT_FACING_CAMERA @ axis_angle_to_matrix(poses[:, :3])
        poses[:, :3] = matrix_to_axis_angle(root)
        transl = torch.tensor([[p.x0 + p.speed * t, 0.1, p.depth] for p in people], dtype=torch.float64)
        poses, transl = poses.to(model.dtype), transl.to(model.dtype)
        with torch.no_grad():
            output = layer(poses, betas, transl)
            pixels = project_points(output.keypoints, k)
        pixels = pixels + noise_px * torch.randn(pixels.shape, generator=generator, dtype=pixels.dtype)
        confidence = torch.where(layer.available, 0.9, 0.0).expand(len(people), -1)
        observations = [PersonObservation(pixels[i].numpy().astype(np.float32),
                                          confidence[i].numpy().astype(np.float32), fmt)
                        for i in range(len(people))]
        out.append(SceneFrame(start_stamp + t, observations, poses.numpy(), betas.numpy(),
                              transl.numpy(), output.joints.numpy()))
    return out
