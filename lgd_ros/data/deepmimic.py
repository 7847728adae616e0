"""DeepMimic motion files (``humanoid3d_*.txt``, as shipped in ``pybullet_data``).

A DeepMimic file is JSON: ``{"Loop": ..., "Frames": [[...44 numbers...], ...]}``. Each frame
is ``dt`` (seconds until the next frame), root position (3), root orientation quaternion
``(w, x, y, z)``, then chest, neck, right hip (quaternions), right knee (one angle), right
ankle, right shoulder (quaternions), right elbow (one angle), and the left side the same way.

The humanoid (``pybullet_data/humanoid/humanoid.urdf``) is y-up and faces +x; its right side
is +z; every link frame is aligned with the world in the rest pose, so a link's global
rotation is the product of the local rotations along its chain. In the rest pose the legs and
the arms hang straight down (SMPL's arms are horizontal: :mod:`lgd_ros.data.retarget`
corrects that). Knees and elbows are hinges about the link's z axis (the body's right):
knee angles are <= 0 (shin swings back), elbow angles >= 0 (forearm swings forward).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from lgd_ros.body.rotations import quaternion_to_matrix
from lgd_ros.body.skeleton import NUM_JOINTS, SMPL_JOINT_NAMES
from lgd_ros.data.errors import MotionFileError, MotionFileNotFoundError
from lgd_ros.data.retarget import (
    fractional_rotation,
    retarget_global_rotations,
    rotation_about_axis,
    world_frame_change,
)
from lgd_ros.data.sequence import PoseSequence

__all__ = ["DEEPMIMIC_FRAME_SIZE", "load_deepmimic"]

DEEPMIMIC_FRAME_SIZE = 44

# Offsets of each field in a frame (after dt at 0).
_ROOT_POS = slice(1, 4)
_ROOT_QUAT = slice(4, 8)
_SPHERICAL = {  # name -> start of its (w, x, y, z) quaternion
    "chest": 8,
    "neck": 12,
    "right_hip": 16,
    "right_ankle": 21,
    "right_shoulder": 25,
    "left_hip": 30,
    "left_ankle": 35,
    "left_shoulder": 39,
}
_HINGE = {"right_knee": 20, "right_elbow": 29, "left_knee": 34, "left_elbow": 43}
_HINGE_AXIS = (0.0, 0.0, 1.0)  # every DeepMimic hinge turns about its link's z axis

_UP = (0.0, 1.0, 0.0)
_LEFT = (0.0, 0.0, -1.0)  # right hip is at +z in humanoid.urdf
_DOWN = (0.0, -1.0, 0.0)


def _read_frames(path: Path) -> np.ndarray:
    if not path.is_file():
        raise MotionFileNotFoundError(path, "DeepMimic motion file not found")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MotionFileError(path, f"not a DeepMimic motion file (invalid JSON: {exc})") from None
    if not isinstance(document, dict) or "Frames" not in document:
        raise MotionFileError(path, "not a DeepMimic motion file (no 'Frames' list)")
    try:
        frames = np.asarray(document["Frames"], dtype=np.float64)
    except (TypeError, ValueError):
        raise MotionFileError(
            path, "'Frames' must be a list of equal-length number lists"
        ) from None
    if frames.ndim != 2 or frames.shape[0] == 0 or frames.shape[1] != DEEPMIMIC_FRAME_SIZE:
        raise MotionFileError(
            path,
            f"expected 'Frames' of shape [T>0, {DEEPMIMIC_FRAME_SIZE}] (the 3D humanoid layout), "
            f"got {list(frames.shape)}",
        )
    if not np.isfinite(frames).all():
        raise MotionFileError(path, "'Frames' contains NaN or infinite values")
    durations = frames[:, 0]
    if (durations < 0).any() or not (durations > 0).any():
        raise MotionFileError(path, "frame durations (first column) must be >= 0, not all 0")
    quat_norms = [np.linalg.norm(frames[:, s : s + 4], axis=1) for s in (4, *_SPHERICAL.values())]
    if (np.stack(quat_norms) < 0.5).any():
        raise MotionFileError(path, "a joint quaternion has (near) zero length")
    return frames


def _frame_rate(frames: np.ndarray) -> float:
    """Frames per second from the durations; the last frame's duration is 0 by convention."""
    durations = frames[:, 0]
    return float(1.0 / np.median(durations[durations > 0]))


def load_deepmimic(
    path: str | Path,
    *,
    clip_id: str | None = None,
    licence: str = "MIT (DeepMimic)",
    origin: str = "",
) -> PoseSequence:
    """Load a DeepMimic humanoid motion and retarget it to SMPL.

    Mapping: root -> pelvis; chest -> spine1..spine3 (its rotation spread evenly over the three
    SMPL spine joints); neck -> neck and head (half each); hips, knees, ankles, shoulders,
    elbows -> the SMPL joints of the same name. Collars, wrists and hands have no source and
    keep zero local rotation.

    Args:
        path: the ``.txt`` motion file.
        clip_id: identifier; defaults to ``"deepmimic/<file stem>"``.
        licence: licence recorded with the clip.
        origin: provenance text recorded with the clip.

    Returns:
        A :class:`PoseSequence` with poses, root translation (metres, corpus world) and fps
        (from the median frame duration).

    Raises:
        MotionFileNotFoundError: no such file.
        MotionFileError: not JSON, or not the 44-number humanoid frame layout.
    """
    path = Path(path)
    frames = _read_frames(path)
    count = frames.shape[0]
    data = torch.as_tensor(frames, dtype=torch.float64)

    def quat(start: int) -> torch.Tensor:
        q = data[:, start : start + 4]
        return quaternion_to_matrix(q)  # normalises

    def hinge(index: int) -> torch.Tensor:
        return rotation_about_axis(_HINGE_AXIS, data[:, index])

    root = quat(_ROOT_QUAT.start)
    chest_local = quat(_SPHERICAL["chest"])
    chest = root @ chest_local
    neck_local = quat(_SPHERICAL["neck"])
    global_rot: dict[str, torch.Tensor] = {
        "pelvis": root,
        "spine1": root @ fractional_rotation(chest_local, 1.0 / 3.0),
        "spine2": root @ fractional_rotation(chest_local, 2.0 / 3.0),
        "spine3": chest,
        "neck": chest @ fractional_rotation(neck_local, 0.5),
        "head": chest @ neck_local,
    }
    for side in ("left", "right"):
        hip = root @ quat(_SPHERICAL[f"{side}_hip"])
        knee = hip @ hinge(_HINGE[f"{side}_knee"])
        shoulder = chest @ quat(_SPHERICAL[f"{side}_shoulder"])
        global_rot[f"{side}_hip"] = hip
        global_rot[f"{side}_knee"] = knee
        global_rot[f"{side}_ankle"] = knee @ quat(_SPHERICAL[f"{side}_ankle"])
        global_rot[f"{side}_shoulder"] = shoulder
        global_rot[f"{side}_elbow"] = shoulder @ hinge(_HINGE[f"{side}_elbow"])

    source = torch.eye(3, dtype=torch.float64).repeat(count, NUM_JOINTS, 1, 1)
    driven = np.zeros(NUM_JOINTS, dtype=bool)
    rest_dirs = np.full((NUM_JOINTS, 3), np.nan)
    for joint, name in enumerate(SMPL_JOINT_NAMES):
        if name in global_rot:
            source[:, joint] = global_rot[name]
            driven[joint] = True
    # Arms hang down in DeepMimic's rest pose; every other segment rests as in SMPL.
    for name in ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow"):
        rest_dirs[SMPL_JOINT_NAMES.index(name)] = _DOWN
    change = world_frame_change(_UP, _LEFT)
    poses = retarget_global_rotations(source, driven, rest_dirs, change)
    transl = frames[:, _ROOT_POS] @ change.T
    return PoseSequence(
        poses=poses,
        fps=_frame_rate(frames),
        clip_id=clip_id if clip_id is not None else f"deepmimic/{path.stem}",
        source="deepmimic",
        licence=licence,
        transl=transl.astype(np.float32),
        origin=origin or str(path.name),
    )
