"""Acclaim ASF/AMC motion capture (the CMU MoCap database's format).

The ASF file describes the skeleton: per bone a rest ``direction`` (world frame, rest pose),
a ``length``, an ``axis`` (Euler angles, in degrees unless ``:units angle rad``, with an
order such as ``XYZ``) that defines the bone's local frame, and its degrees of freedom
(``dof rx ry rz``). The AMC file gives, per frame, the dof values of every bone.

Kinematics (the Acclaim convention). With ``A_b`` the axis rotation of bone ``b`` and ``M_b``
the rotation built from its dof values (each channel a rotation about the local x, y or z
axis, the first listed applied first, i.e. ``M = R_last ... R_first``), the rotation of bone
``b`` relative to the rest pose, in world coordinates, is

    B_b = B_parent A_b M_b A_b^-1,          B_root = A_root M_root A_root^-1

and the posed bone points along ``B_b direction_b``. CMU skeletons are y up with the body
facing +z and its left at +x (the corpus frame already). Lengths and root translations are in
units of ``1 / length`` inches (CMU: ``length 0.45``).
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
    retarget_global_rotations,
    world_frame_change,
)
from lgd_ros.data.sequence import PoseSequence

__all__ = [
    "CMU_SMPL_JOINT_MAP",
    "AsfBone",
    "AsfSkeleton",
    "load_asf_amc",
    "parse_amc",
    "parse_asf",
]

INCH_M = 0.0254

CMU_SMPL_JOINT_MAP: dict[str, str] = {
    "pelvis": "root",
    "left_hip": "lfemur",
    "right_hip": "rfemur",
    "spine1": "lowerback",
    "left_knee": "ltibia",
    "right_knee": "rtibia",
    "spine2": "upperback",
    "left_ankle": "lfoot",
    "right_ankle": "rfoot",
    "spine3": "thorax",
    "left_foot": "ltoes",
    "right_foot": "rtoes",
    "neck": "upperneck",
    "left_collar": "lclavicle",
    "right_collar": "rclavicle",
    "head": "head",
    "left_shoulder": "lhumerus",
    "right_shoulder": "rhumerus",
    "left_elbow": "lradius",
    "right_elbow": "rradius",
    "left_wrist": "lhand",
    "right_wrist": "rhand",
}
"""SMPL joint -> CMU bone whose rotation drives it (SMPL's hand joints have no counterpart).

SMPL's neck segment spans CMU's lowerneck and upperneck; it follows upperneck (which carries
lowerneck's rotation too). SMPL's wrist turns the hand, i.e. CMU's ``lhand`` (whose global
rotation includes the forearm twist of ``lwrist``)."""


@dataclass
class AsfBone:
    """One ASF bone (rest pose, world frame)."""

    name: str
    direction: np.ndarray  # [3] unit
    length: float
    axis_angles: np.ndarray  # [3] in radians, about x, y, z
    axis_order: str  # e.g. "XYZ": applied in this order
    dofs: tuple[str, ...] = ()  # e.g. ("rx", "ry", "rz")
    parent: str | None = None


@dataclass
class AsfSkeleton:
    """A parsed ASF file. The root is a bone named ``root`` of zero length."""

    path: Path
    bones: dict[str, AsfBone]
    root_order: tuple[str, ...]  # AMC channel order of the root, e.g. ("tx", ..., "rz")
    length_unit: float  # ``:units length``
    angles_in_degrees: bool
    children: dict[str, list[str]] = field(default_factory=dict)

    def bone_order(self) -> list[str]:
        """Bones parents-first (depth-first from the root, in file order)."""
        order: list[str] = []
        stack = ["root"]
        while stack:
            name = stack.pop()
            order.append(name)
            stack.extend(reversed(self.children.get(name, [])))
        return order

    def rest_start_positions(self) -> dict[str, np.ndarray]:
        """World position (file units) where each bone starts, in the rest pose."""
        start: dict[str, np.ndarray] = {"root": np.zeros(3)}
        for name in self.bone_order():
            bone = self.bones[name]
            end = start[name] + bone.direction * bone.length
            for child in self.children.get(name, []):
                start[child] = end
        return start


def _euler_matrix(angles: torch.Tensor, axes: str) -> torch.Tensor:
    """``[..., 3, 3]``: rotations about the named axes in turn, the first applied first.

    ``angles [..., len(axes)]`` in radians, ``axes`` like ``"xyz"`` (``R = Rz Ry Rx``: fixed
    axes, extrinsic). Fewer than three axes (``dof rx rz``) are completed with zero angles.
    """
    order = axes.lower()
    missing = [a for a in "xyz" if a not in order]
    padding = angles.new_zeros(*angles.shape[:-1], len(missing))
    return euler_to_matrix(torch.cat([angles, padding], dim=-1), order + "".join(missing))


def _tokens(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise MotionFileNotFoundError(path, "file not found")
    try:
        text = path.read_text(encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        try:
            text = path.read_text(encoding="latin-1")
        except OSError as exc:  # pragma: no cover - I/O errors
            raise MotionFileError(path, f"cannot read: {exc}") from None
    lines = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            lines.append(line.split())
    return lines


def _floats(path: Path, words: list[str], what: str) -> list[float]:
    try:
        return [float(w) for w in words]
    except ValueError:
        raise MotionFileError(path, f"{what}: expected numbers, got {' '.join(words)!r}") from None


def parse_asf(path: str | Path) -> AsfSkeleton:
    """Parse an ASF skeleton file.

    Raises:
        MotionFileNotFoundError: no such file.
        MotionFileError: not an ASF file, or a bone without direction/length, or a hierarchy
            naming unknown bones.
    """
    path = Path(path)
    lines = _tokens(path)
    if not any(line[0] == ":bonedata" for line in lines) or not any(
        line[0] == ":hierarchy" for line in lines
    ):
        raise MotionFileError(path, "not an ASF skeleton (no ':bonedata' and ':hierarchy')")
    length_unit = 1.0
    degrees = True
    root_order: tuple[str, ...] = ("tx", "ty", "tz", "rx", "ry", "rz")
    root_axis = "XYZ"
    root_orientation = np.zeros(3)
    bones: dict[str, AsfBone] = {}
    children: dict[str, list[str]] = {}
    section = ""
    current: dict[str, list[str]] | None = None
    index = 0
    while index < len(lines):
        words = lines[index]
        key = words[0].lower()
        index += 1
        if key.startswith(":"):
            section = key
            continue
        if section == ":units":
            if key == "length" and len(words) > 1:
                length_unit = _floats(path, words[1:2], "units length")[0]
            elif key == "angle" and len(words) > 1:
                degrees = words[1].lower().startswith("deg")
        elif section == ":root":
            if key == "order":
                root_order = tuple(w.lower() for w in words[1:])
            elif key == "axis" and len(words) > 1:
                root_axis = words[1].upper()
            elif key == "orientation":
                root_orientation = np.asarray(_floats(path, words[1:4], "root orientation"))
        elif section == ":bonedata":
            if key == "begin":
                current = {}
            elif key == "end":
                if current is None:
                    raise MotionFileError(path, "'end' without 'begin' in :bonedata")
                bone = _make_bone(path, current, degrees)
                bones[bone.name] = bone
                current = None
            elif current is not None:
                if key == "limits":
                    continue  # limits span several lines; they are not needed for retargeting
                current[key] = words[1:]
        elif section == ":hierarchy":
            if key in ("begin", "end"):
                continue
            parent, kids = words[0], words[1:]
            children.setdefault(parent, []).extend(kids)
    scale = math.pi / 180.0 if degrees else 1.0
    bones["root"] = AsfBone(
        name="root",
        direction=np.zeros(3),
        length=0.0,
        axis_angles=root_orientation * scale,
        axis_order=root_axis,
        dofs=tuple(ch for ch in root_order if ch.startswith("r")),
    )
    for parent, kids in children.items():
        for kid in [parent, *kids]:
            if kid not in bones:
                raise MotionFileError(path, f"hierarchy names bone {kid!r}, not in :bonedata")
        for kid in kids:
            bones[kid].parent = parent
    if not children.get("root"):
        raise MotionFileError(path, "hierarchy has no bones under 'root'")
    return AsfSkeleton(
        path=path,
        bones=bones,
        root_order=root_order,
        length_unit=length_unit,
        angles_in_degrees=degrees,
        children=children,
    )


def _make_bone(path: Path, fields: dict[str, list[str]], degrees: bool) -> AsfBone:
    name = fields.get("name", [""])[0]
    if not name:
        raise MotionFileError(path, "a bone in :bonedata has no name")
    for required in ("direction", "length"):
        if required not in fields:
            raise MotionFileError(path, f"bone {name!r} has no {required!r}")
    direction = np.asarray(_floats(path, fields["direction"][:3], f"bone {name} direction"))
    norm = float(np.linalg.norm(direction))
    if len(direction) != 3 or norm < 1e-9:
        raise MotionFileError(path, f"bone {name!r}: direction must be a non-zero 3-vector")
    axis_words = fields.get("axis", ["0", "0", "0", "XYZ"])
    axis_angles = np.asarray(_floats(path, axis_words[:3], f"bone {name} axis"))
    order = axis_words[3].upper() if len(axis_words) > 3 else "XYZ"
    scale = math.pi / 180.0 if degrees else 1.0
    return AsfBone(
        name=name,
        direction=direction / norm,
        length=_floats(path, fields["length"][:1], f"bone {name} length")[0],
        axis_angles=axis_angles * scale,
        axis_order=order,
        dofs=tuple(d.lower() for d in fields.get("dof", [])),
    )


def parse_amc(path: str | Path, skeleton: AsfSkeleton) -> dict[str, np.ndarray]:
    """Parse an AMC motion for ``skeleton``.

    Returns:
        bone name -> ``[T, n_dof]`` float64 values (the root's in ``skeleton.root_order``), in
        the file's units (degrees unless the ASF says radians).

    Raises:
        MotionFileError: no frames, a bone the skeleton lacks, a wrong number of values, or
            frames that do not all list the same bones.
    """
    path = Path(path)
    lines = _tokens(path)
    frames: list[dict[str, list[float]]] = []
    for words in lines:
        head = words[0]
        if head.startswith(":"):
            continue
        if len(words) == 1 and head.isdigit():
            frames.append({})
            continue
        if not frames:
            raise MotionFileError(
                path, f"not an AMC motion (expected a frame number, got {head!r})"
            )
        if head not in skeleton.bones:
            raise MotionFileError(
                path, f"frame {len(frames)} names bone {head!r}, not in skeleton {skeleton.path}"
            )
        frames[-1][head] = _floats(path, words[1:], f"frame {len(frames)} bone {head}")
    if not frames:
        raise MotionFileError(path, "not an AMC motion: no frames")
    names = sorted(frames[0])
    values: dict[str, np.ndarray] = {}
    for name in names:
        channels = skeleton.root_order if name == "root" else skeleton.bones[name].dofs
        expected = len(channels)
        rows = []
        for number, frame in enumerate(frames, start=1):
            if name not in frame:
                raise MotionFileError(path, f"frame {number} has no values for bone {name!r}")
            if len(frame[name]) != expected:
                raise MotionFileError(
                    path,
                    f"frame {number} bone {name!r}: expected {expected} values "
                    f"({' '.join(channels)}), got {len(frame[name])}",
                )
            rows.append(frame[name])
        values[name] = np.asarray(rows, dtype=np.float64)
    if "root" not in values:
        raise MotionFileError(path, "no 'root' values in the motion")
    return values


def global_bone_rotations(
    skeleton: AsfSkeleton, motion: dict[str, np.ndarray]
) -> dict[str, torch.Tensor]:
    """``B_b [T, 3, 3]`` (float64) for every bone, world frame, relative to the rest pose."""
    count = next(iter(motion.values())).shape[0]
    scale = math.pi / 180.0 if skeleton.angles_in_degrees else 1.0
    result: dict[str, torch.Tensor] = {}
    for name in skeleton.bone_order():
        bone = skeleton.bones[name]
        axis = _euler_matrix(torch.as_tensor(bone.axis_angles), bone.axis_order)
        if name == "root":
            channels = [c for c in skeleton.root_order if c.startswith("r")]
            columns = [skeleton.root_order.index(c) for c in channels]
        else:
            channels = [c for c in bone.dofs if c.startswith("r")]
            columns = [bone.dofs.index(c) for c in channels]
        if channels and name in motion:
            angles = torch.as_tensor(motion[name][:, columns] * scale)
            local = _euler_matrix(angles, "".join(c[1] for c in channels))
        else:
            local = torch.eye(3, dtype=torch.float64).expand(count, 3, 3)
        relative = axis @ local @ axis.T  # A M A^-1
        parent = bone.parent
        result[name] = relative if parent is None else result[parent] @ relative
    return result


def load_asf_amc(
    asf_path: str | Path,
    amc_path: str | Path,
    *,
    fps: float = 120.0,
    joint_map: dict[str, str] | None = None,
    clip_id: str | None = None,
    licence: str = "CMU Graphics Lab Motion Capture Database: free for all uses",
    origin: str = "",
) -> PoseSequence:
    """Load an ASF/AMC pair and retarget it to SMPL by rotations.

    Args:
        asf_path: skeleton file.
        amc_path: motion file.
        fps: frame rate (AMC files do not store it; CMU captured at 120 Hz).
        joint_map: SMPL joint -> ASF bone; defaults to :data:`CMU_SMPL_JOINT_MAP`.
        clip_id: defaults to ``"cmu/<amc stem>"``.
        licence: licence recorded with the clip.
        origin: provenance text.

    Returns:
        A :class:`PoseSequence` with poses and root translation (metres).

    Raises:
        MotionFileNotFoundError, MotionFileError: unreadable or inconsistent files.
        JointMapError: the map names a bone the skeleton lacks.
    """
    skeleton = parse_asf(asf_path)
    motion = parse_amc(amc_path, skeleton)
    mapping = dict(CMU_SMPL_JOINT_MAP if joint_map is None else joint_map)
    for smpl_name, bone_name in mapping.items():
        if smpl_name not in SMPL_JOINT_NAMES:
            raise JointMapError(f"joint map: {smpl_name!r} is not an SMPL joint name")
        if bone_name not in skeleton.bones:
            raise JointMapError(
                f"joint map: bone {bone_name!r} (for {smpl_name}) is not in {skeleton.path}"
            )
    if mapping.get("pelvis") != "root":
        raise JointMapError("joint map: 'pelvis' must map to the ASF 'root'")
    rotations = global_bone_rotations(skeleton, motion)
    count = motion["root"].shape[0]
    source = torch.eye(3, dtype=torch.float64).repeat(count, NUM_JOINTS, 1, 1)
    driven = np.zeros(NUM_JOINTS, dtype=bool)
    rest_dirs = np.full((NUM_JOINTS, 3), np.nan)
    for joint, name in enumerate(SMPL_JOINT_NAMES):
        if name not in mapping:
            continue
        bone_name = mapping[name]
        source[:, joint] = rotations[bone_name]
        driven[joint] = True
        if name in LIMB_JOINTS:
            rest_dirs[joint] = skeleton.bones[bone_name].direction
    change = _cmu_frame_change(skeleton, mapping)
    poses = retarget_global_rotations(source, driven, rest_dirs, change)
    root_values = motion["root"]
    translation_columns = [skeleton.root_order.index(c) for c in ("tx", "ty", "tz")]
    to_metres = INCH_M / skeleton.length_unit
    transl = root_values[:, translation_columns] * to_metres @ change.T
    return PoseSequence(
        poses=poses,
        fps=fps,
        clip_id=clip_id if clip_id is not None else f"cmu/{Path(amc_path).stem}",
        source="cmu",
        licence=licence,
        transl=transl.astype(np.float32),
        origin=origin or f"{Path(asf_path).name} + {Path(amc_path).name}",
    )


def _cmu_frame_change(skeleton: AsfSkeleton, mapping: dict[str, str]) -> np.ndarray:
    """Frame change from the ASF world (y up by convention) using the rest hips for 'left'."""
    starts = skeleton.rest_start_positions()
    left_hip, right_hip = mapping.get("left_hip"), mapping.get("right_hip")
    if left_hip is None or right_hip is None:
        return world_frame_change((0.0, 1.0, 0.0), (1.0, 0.0, 0.0))
    return world_frame_change((0.0, 1.0, 0.0), starts[left_hip] - starts[right_hip])
