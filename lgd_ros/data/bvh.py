"""BVH motion files, retargeted to SMPL through a joint-name map.

BVH (Biovision hierarchy): a ``HIERARCHY`` of joints with an ``OFFSET`` from the parent (rest
pose, world-aligned frames) and ``CHANNELS`` (positions for the root, Euler rotations), then
``MOTION`` with ``Frames:``, ``Frame Time:`` and one line of channel values per frame.
Rotation channels compose in the order listed: ``Zrotation Xrotation Yrotation`` means
``R = Rz Rx Ry`` (rotate about the joint's z, then its new x, then its new y). A joint's
global rotation is the product down its chain; a rotation of zero everywhere is the rest pose
the offsets describe.

The world is taken as y up unless ``up_axis="z"``; the body's left comes from the rest hips.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from lgd_ros.body.rotations import euler_to_matrix
from lgd_ros.body.skeleton import NUM_JOINTS, SMPL_JOINT_NAMES
from lgd_ros.data.errors import JointMapError, MotionFileError, MotionFileNotFoundError
from lgd_ros.data.retarget import (
    LIMB_JOINTS,
    SMPL_SEGMENT_CHILD,
    retarget_global_rotations,
    world_frame_change,
)
from lgd_ros.data.sequence import PoseSequence

__all__ = ["BVH_JOINT_MAPS", "BvhMotion", "load_bvh", "parse_bvh"]

def _sided(table: dict[str, str]) -> dict[str, str]:
    """``{"hip": "UpLeg"}`` -> ``{"left_hip": "LeftUpLeg", "right_hip": "RightUpLeg"}``."""
    return {f"{side}_{joint}": f"{side.capitalize()}{name}" for side in ("left", "right")
            for joint, name in table.items()}


# Mixamo rigs and the CMU database's BVH conversions share their limb names.
_MIXAMO_LIMBS = _sided({"hip": "UpLeg", "knee": "Leg", "ankle": "Foot", "foot": "ToeBase", "collar": "Shoulder",
                        "shoulder": "Arm", "elbow": "ForeArm", "wrist": "Hand"})

BVH_JOINT_MAPS: dict[str, dict[str, str]] = {
    # Mixamo rigs (names may carry a "mixamorig:" prefix: prefixes are ignored when matching).
    "mixamo": {"pelvis": "Hips", "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2", "neck": "Neck",
               "head": "Head", **_MIXAMO_LIMBS},
    # The CMU database's BVH conversions.
    "cmu": {"pelvis": "Hips", "spine1": "LowerBack", "spine2": "Spine", "spine3": "Spine1", "neck": "Neck1",
            "head": "Head", **_MIXAMO_LIMBS},
    # Classic Biovision naming (Hips, Chest, LeftCollar, LeftShoulder = upper arm, ...).
    "biovision": {"pelvis": "Hips", "spine1": "Chest", "spine3": "Chest2", "neck": "Neck", "head": "Head",
                  **_sided({"hip": "Hip", "knee": "Knee", "ankle": "Ankle", "collar": "Collar",
                            "shoulder": "Shoulder", "elbow": "Elbow", "wrist": "Wrist"})},
}
"""Ready-made joint maps (SMPL joint -> BVH joint) for common rigs; pass a dict for others."""

_UP_AXES = {"y": (0.0, 1.0, 0.0), "z": (0.0, 0.0, 1.0)}


@dataclass
class BvhJoint:
    """One joint of the hierarchy (rest pose)."""

    name: str
    parent: int
    offset: np.ndarray  # [3] from the parent, file units
    channels: tuple[str, ...]
    children: list[int] = field(default_factory=list)
    end_site: np.ndarray | None = None  # [3] offset of an End Site, if any


@dataclass
class BvhMotion:
    """A parsed BVH file."""

    path: Path
    joints: list[BvhJoint]
    frame_time: float
    values: np.ndarray  # [T, total channels]

    def channel_columns(self) -> list[slice]:
        """Column range of each joint's channels in ``values``."""
        columns, start = [], 0
        for joint in self.joints:
            columns.append(slice(start, start + len(joint.channels)))
            start += len(joint.channels)
        return columns

    def rest_positions(self) -> np.ndarray:
        """``[J, 3]`` joint positions in the rest pose (file units)."""
        positions = np.zeros((len(self.joints), 3))
        for index, joint in enumerate(self.joints):
            base = positions[joint.parent] if joint.parent >= 0 else np.zeros(3)
            positions[index] = base + joint.offset
        return positions

    def global_rotations(self) -> torch.Tensor:
        """``[T, J, 3, 3]`` float64 global rotation of every joint (relative to rest)."""
        frames = self.values.shape[0]
        columns = self.channel_columns()
        result: list[torch.Tensor] = []
        for index, joint in enumerate(self.joints):
            block = torch.as_tensor(self.values[:, columns[index]])
            rotation_columns = [k for k, c in enumerate(joint.channels) if c.endswith("rotation")]
            # Intrinsic Euler angles in channel order (upper-case order: R = R_a R_b R_c);
            # axes without a channel get angle zero.
            order = "".join(joint.channels[k][0] for k in rotation_columns)
            missing = [a for a in "xyz" if a not in order]
            angles = torch.cat(
                [block[:, rotation_columns], block.new_zeros(frames, len(missing))], dim=1
            ) * (math.pi / 180.0)
            local = euler_to_matrix(angles, (order + "".join(missing)).upper())
            result.append(local if joint.parent < 0 else result[joint.parent] @ local)
        return torch.stack(result, dim=1)

    def find(self, name: str) -> int | None:
        """Index of a joint by name, ignoring namespace prefixes like ``mixamorig:``."""
        for index, joint in enumerate(self.joints):
            if joint.name == name or joint.name.rsplit(":", 1)[-1] == name:
                return index
        return None


def parse_bvh(path: str | Path) -> BvhMotion:
    """Parse a BVH file.

    Raises:
        MotionFileNotFoundError: no such file.
        MotionFileError: not a BVH file, unbalanced braces, unknown channels, or a frame
            count or line length that does not match the hierarchy.
    """
    path = Path(path)
    if not path.is_file():
        raise MotionFileNotFoundError(path, "BVH file not found")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:  # pragma: no cover - I/O errors
        raise MotionFileError(path, f"cannot read: {exc}") from None
    tokens = text.split()
    if not tokens or tokens[0].upper() != "HIERARCHY":
        raise MotionFileError(path, "not a BVH file (does not start with HIERARCHY)")
    joints: list[BvhJoint] = []
    stack: list[int] = []
    position = 1
    pending: tuple[str, int] | None = None  # (kind, parent) for the next '{'
    in_end_site = False

    def number(index: int, what: str) -> float:
        try:
            return float(tokens[index])
        except (IndexError, ValueError):
            got = tokens[index] if index < len(tokens) else "end of file"
            raise MotionFileError(path, f"{what}: expected a number, got {got!r}") from None

    while position < len(tokens):
        token = tokens[position]
        upper = token.upper()
        if upper in ("ROOT", "JOINT"):
            if position + 1 >= len(tokens):
                raise MotionFileError(path, f"{token} without a name")
            parent = stack[-1] if stack else -1
            if upper == "ROOT" and joints:
                raise MotionFileError(path, "more than one ROOT")
            joints.append(BvhJoint(tokens[position + 1], parent, np.zeros(3), ()))
            if parent >= 0:
                joints[parent].children.append(len(joints) - 1)
            pending = ("joint", len(joints) - 1)
            position += 2
        elif upper == "END":
            pending = ("end", stack[-1] if stack else -1)
            in_end_site = True
            position += 2  # "End Site"
        elif token == "{":
            if pending is None:
                raise MotionFileError(path, "'{' without a joint")
            if pending[0] == "joint":
                stack.append(pending[1])
            pending = None
            position += 1
        elif token == "}":
            if in_end_site:
                in_end_site = False
            elif stack:
                stack.pop()
            else:
                raise MotionFileError(path, "unbalanced '}' in HIERARCHY")
            position += 1
        elif upper == "OFFSET":
            offset = np.array([number(position + k, "OFFSET") for k in (1, 2, 3)])
            if in_end_site:
                if stack:
                    joints[stack[-1]].end_site = offset
            elif stack:
                joints[stack[-1]].offset = offset
            position += 4
        elif upper == "CHANNELS":
            count = int(number(position + 1, "CHANNELS count"))
            names = tuple(t.lower() for t in tokens[position + 2 : position + 2 + count])
            for name in names:
                if name not in {f"{a}{k}" for a in "xyz" for k in ("position", "rotation")}:
                    raise MotionFileError(
                        path, f"unknown channel {name!r} for joint {joints[stack[-1]].name}"
                    )
            if not stack:
                raise MotionFileError(path, "CHANNELS outside a joint")
            joints[stack[-1]].channels = names
            position += 2 + count
        elif upper == "MOTION":
            position += 1
            break
        else:
            raise MotionFileError(path, f"unexpected token {token!r} in HIERARCHY")
    else:
        raise MotionFileError(path, "no MOTION section")
    if stack:
        raise MotionFileError(path, "unbalanced braces: HIERARCHY not closed before MOTION")
    if not joints:
        raise MotionFileError(path, "no joints in HIERARCHY")
    # MOTION header: "Frames: N" "Frame Time: dt"
    try:
        if tokens[position].lower() != "frames:":
            raise ValueError
        frames = int(tokens[position + 1])
        if tokens[position + 2].lower() != "frame" or tokens[position + 3].lower() != "time:":
            raise ValueError
        frame_time = float(tokens[position + 4])
    except (IndexError, ValueError):
        raise MotionFileError(
            path, "MOTION must start with 'Frames: N' and 'Frame Time: dt'"
        ) from None
    if frames <= 0 or not frame_time > 0:
        raise MotionFileError(
            path, f"need Frames > 0 and Frame Time > 0, got {frames} and {frame_time}"
        )
    width = sum(len(j.channels) for j in joints)
    numbers = tokens[position + 5 :]
    if len(numbers) != frames * width:
        raise MotionFileError(
            path,
            f"expected {frames} frames x {width} channel values = {frames * width} numbers, "
            f"got {len(numbers)}",
        )
    try:
        values = np.asarray(numbers, dtype=np.float64).reshape(frames, width)
    except ValueError:
        raise MotionFileError(path, "MOTION data contains non-numbers") from None
    if not np.isfinite(values).all():
        raise MotionFileError(path, "MOTION data contains NaN or infinite values")
    return BvhMotion(path=path, joints=joints, frame_time=frame_time, values=values)


def load_bvh(
    path: str | Path,
    joint_map: dict[str, str] | str,
    *,
    up_axis: str = "y",
    units_to_metres: float = 0.01,
    clip_id: str | None = None,
    licence: str = "unknown",
    origin: str = "",
) -> PoseSequence:
    """Load a BVH clip and retarget it to SMPL by rotations.

    Args:
        path: the ``.bvh`` file.
        joint_map: SMPL joint name -> BVH joint name (must include pelvis, both hips; at
            least the limbs you care about), or a preset name from :data:`BVH_JOINT_MAPS`.
            SMPL joints left out keep zero local rotation.
        up_axis: ``"y"`` (usual) or ``"z"``.
        units_to_metres: scale of offsets and root positions (0.01 for centimetres).
        clip_id: defaults to ``"bvh/<stem>"``.
        licence: licence recorded with the clip (you must know it).
        origin: provenance text.

    Raises:
        MotionFileNotFoundError, MotionFileError: unreadable file.
        JointMapError: unknown preset, a name that is not an SMPL joint, or a BVH joint the
            file lacks.
    """
    motion = parse_bvh(path)
    if isinstance(joint_map, str):
        if joint_map not in BVH_JOINT_MAPS:
            raise JointMapError(
                f"unknown BVH joint map {joint_map!r}; presets: {', '.join(sorted(BVH_JOINT_MAPS))}"
            )
        mapping = BVH_JOINT_MAPS[joint_map]
    else:
        mapping = dict(joint_map)
    indices: dict[str, int] = {}
    for smpl_name, bvh_name in mapping.items():
        if smpl_name not in SMPL_JOINT_NAMES:
            raise JointMapError(f"joint map: {smpl_name!r} is not an SMPL joint name")
        found = motion.find(bvh_name)
        if found is None:
            raise JointMapError(
                f"joint map: BVH joint {bvh_name!r} (for {smpl_name}) is not in {motion.path}; "
                f"joints there: {', '.join(j.name for j in motion.joints)}"
            )
        indices[smpl_name] = found
    for required in ("pelvis", "left_hip", "right_hip"):
        if required not in indices:
            raise JointMapError(f"joint map must include {required!r}")
    if indices["pelvis"] != 0:
        raise JointMapError("joint map: 'pelvis' must be the BVH ROOT joint")
    if up_axis not in ("y", "z"):
        raise MotionFileError(motion.path, f"up_axis must be 'y' or 'z', got {up_axis!r}")

    rest = motion.rest_positions()
    rotations = motion.global_rotations()
    frames = rotations.shape[0]
    source = torch.eye(3, dtype=torch.float64).repeat(frames, NUM_JOINTS, 1, 1)
    driven = np.zeros(NUM_JOINTS, dtype=bool)
    rest_dirs = np.full((NUM_JOINTS, 3), np.nan)
    for joint, name in enumerate(SMPL_JOINT_NAMES):
        if name not in indices:
            continue
        source[:, joint] = rotations[:, indices[name]]
        driven[joint] = True
        if name not in LIMB_JOINTS:
            continue  # rest poses taken to agree (see lgd_ros.data.retarget)
        child = SMPL_SEGMENT_CHILD[name]
        bvh_joint = motion.joints[indices[name]]
        if child is not None and child in indices:
            direction = rest[indices[child]] - rest[indices[name]]
        elif bvh_joint.children:
            direction = motion.joints[bvh_joint.children[0]].offset
        elif bvh_joint.end_site is not None:
            direction = bvh_joint.end_site
        else:
            continue
        if np.linalg.norm(direction) > 1e-9:
            rest_dirs[joint] = direction
    up = _UP_AXES[up_axis]
    change = world_frame_change(up, rest[indices["left_hip"]] - rest[indices["right_hip"]])
    poses = retarget_global_rotations(source, driven, rest_dirs, change)
    root = motion.joints[0]
    position_columns = [k for k, c in enumerate(root.channels) if c.endswith("position")]
    transl = None
    if len(position_columns) == 3:
        order = [root.channels[k][0] for k in position_columns]
        xyz = motion.values[:, [position_columns[order.index(a)] for a in "xyz"]]
        transl = (xyz * units_to_metres) @ change.T
    return PoseSequence(
        poses=poses,
        fps=1.0 / motion.frame_time,
        clip_id=clip_id if clip_id is not None else f"bvh/{motion.path.stem}",
        source="bvh",
        licence=licence,
        transl=None if transl is None else transl.astype(np.float32),
        origin=origin or motion.path.name,
    )
