"""The record every motion loader returns: a clip as SMPL-layout poses.

World frame of every :class:`PoseSequence` (whatever the source file used): **y up**, right
handed, metres. In the source's rest pose the body faces +z with its left side towards +x,
i.e. the rest pose is SMPL's canonical frame; the root orientation (``poses[:, :3]``) then
carries the body's heading and tilt in that world, exactly as an SMPL global orientation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from lgd_ros.body.skeleton import NUM_BETAS, NUM_JOINTS, POSE_DIM
from lgd_ros.data.errors import PoseInputError

__all__ = ["PoseSequence"]


@dataclass(frozen=True)
class PoseSequence:
    """One motion clip in SMPL layout.

    Attributes:
        poses: ``[T, 72]`` float32 axis-angle, SMPL joint order, root orientation first
            (y-up world, see the module docstring). Joints a source cannot express (SMPL's
            hand joints 22, 23, and any the source skeleton lacks) are zero.
        fps: frames per second of ``poses``.
        clip_id: stable identifier, unique within a corpus (e.g. ``"deepmimic/humanoid3d_walk"``).
        source: where the clip comes from (``"cmu"``, ``"deepmimic"``, ``"amass"``, ``"bvh"``).
        licence: licence of the motion data, as a short SPDX-like string or phrase.
        betas: ``[10]`` float32 SMPL shape of the performer, or None when the source has none.
        transl: ``[T, 3]`` float32 root translation in metres (same world), or None.
        origin: human-readable origin (file name, package and version) for provenance.
    """

    poses: npt.NDArray[np.float32]
    fps: float
    clip_id: str
    source: str
    licence: str
    betas: npt.NDArray[np.float32] | None = None
    transl: npt.NDArray[np.float32] | None = None
    origin: str = ""

    def __post_init__(self) -> None:
        poses = np.asarray(self.poses)
        if poses.ndim != 2 or poses.shape[1] != POSE_DIM:
            raise PoseInputError(
                f"PoseSequence {self.clip_id!r}: poses must be [T, {POSE_DIM}], got {poses.shape}"
            )
        if poses.shape[0] == 0:
            raise PoseInputError(f"PoseSequence {self.clip_id!r}: has no frames")
        if not np.isfinite(poses).all():
            raise PoseInputError(f"PoseSequence {self.clip_id!r}: poses contain NaN or inf")
        object.__setattr__(self, "poses", poses.astype(np.float32, copy=False))
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise PoseInputError(f"PoseSequence {self.clip_id!r}: fps must be > 0, got {self.fps}")
        if self.betas is not None:
            betas = np.asarray(self.betas, dtype=np.float32).reshape(-1)
            if betas.shape != (NUM_BETAS,):
                raise PoseInputError(
                    f"PoseSequence {self.clip_id!r}: betas must be [{NUM_BETAS}], got {betas.shape}"
                )
            object.__setattr__(self, "betas", betas)
        if self.transl is not None:
            transl = np.asarray(self.transl, dtype=np.float32)
            if transl.shape != (poses.shape[0], 3):
                raise PoseInputError(
                    f"PoseSequence {self.clip_id!r}: transl must be [{poses.shape[0]}, 3], "
                    f"got {transl.shape}"
                )
            object.__setattr__(self, "transl", transl)

    @property
    def num_frames(self) -> int:
        """Number of frames T."""
        return int(self.poses.shape[0])

    @property
    def duration_s(self) -> float:
        """Clip length in seconds (``T / fps``)."""
        return self.num_frames / self.fps

    def joint_rotations(self) -> npt.NDArray[np.float32]:
        """``[T, 24, 3]`` view of the poses, one axis-angle vector per SMPL joint."""
        return self.poses.reshape(-1, NUM_JOINTS, 3)
