"""2D keypoint formats as data: what each detector's keypoints are on an SMPL-layout body.

A :class:`KeypointFormat` lists its keypoints in the detector's order. Each keypoint names

* a surface ``landmark`` the body model may provide as a vertex regressor (a weighted sum of
  a few mesh vertices, skinned like the mesh: e.g. the nose tip, or a COCO-style shoulder
  placed where annotators click rather than at the joint centre), and/or
* a ``joint`` of the SMPL skeleton, used when the model has no such landmark.

Which one is used is decided per body model (:meth:`KeypointFormat.resolve`): the open
default model ships landmarks for every keypoint below that it can place, while an official
SMPL file only knows the vertex ids of the face and feet points. A keypoint that a model can
produce neither way is *unavailable*: :class:`~lgd_ros.body.keypoints.KeypointLayer` marks it
in ``available`` and the fitter gives it zero weight instead of a guessed position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from lgd_ros.body.errors import KeypointFormatError
from lgd_ros.body.skeleton import SMPL_JOINT_NAMES

__all__ = [
    "KEYPOINT_FORMAT_NAMES",
    "LANDMARK_NAMES",
    "KeypointFormat",
    "KeypointSource",
    "KeypointSpec",
    "get_keypoint_format",
]

LANDMARK_NAMES: tuple[str, ...] = (
    # face
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_eye_inner", "left_eye_outer", "right_eye_inner", "right_eye_outer",
    "mouth_left", "mouth_right",
    # body, where 2D annotators place them (on the surface, not at joint centres)
    "neck", "mid_hip",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
    # feet
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
    # hands (BlazePose's three hand points)
    "left_thumb", "left_index", "left_pinky", "right_thumb", "right_index", "right_pinky",
)
"""Every surface landmark name a format may ask for; body model files use these names."""


@dataclass(frozen=True)
class KeypointSpec:
    """One keypoint of a format: its name and where it may come from (see module doc)."""

    name: str
    landmark: str | None = None
    joint: str | None = None

    def __post_init__(self) -> None:
        if self.landmark is not None and self.landmark not in LANDMARK_NAMES:
            raise KeypointFormatError(f"keypoint {self.name!r}: unknown landmark {self.landmark!r}")
        if self.joint is not None and self.joint not in SMPL_JOINT_NAMES:
            raise KeypointFormatError(f"keypoint {self.name!r}: unknown SMPL joint {self.joint!r}")


@dataclass(frozen=True)
class KeypointSource:
    """How a given body model produces one keypoint (result of :meth:`KeypointFormat.resolve`)."""

    kind: Literal["joint", "landmark", "unavailable"]
    index: int  # SMPL joint index, or the model's landmark index; -1 if unavailable


@dataclass(frozen=True)
class KeypointFormat:
    """A detector's keypoint set: names in the detector's order, sources and drawing edges.

    Attributes:
        name: registry name (``"coco17"``, ...).
        keypoints: one :class:`KeypointSpec` per keypoint, in the detector's order.
        skeleton_edges: pairs of keypoint indices to draw as bones.
        description: where the definition comes from.
    """

    name: str
    keypoints: tuple[KeypointSpec, ...]
    skeleton_edges: tuple[tuple[int, int], ...]
    description: str = ""
    _index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [k.name for k in self.keypoints]
        if len(set(names)) != len(names):
            raise KeypointFormatError(f"format {self.name!r} has duplicate keypoint names")
        for a, b in self.skeleton_edges:
            if not (0 <= a < len(names) and 0 <= b < len(names)):
                raise KeypointFormatError(f"format {self.name!r}: edge ({a}, {b}) out of range")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    @property
    def keypoint_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.keypoints)

    def index(self, keypoint_name: str) -> int:
        """Position of a keypoint by name."""
        try:
            return self._index[keypoint_name]
        except KeyError:
            raise KeypointFormatError(
                f"format {self.name!r} has no keypoint {keypoint_name!r}; it has "
                f"{', '.join(self.keypoint_names)}"
            ) from None

    @property
    def mirror_permutation(self) -> tuple[int, ...]:
        """``keypoints[..., perm, :]`` swaps left and right keypoints (for flip augmentation)."""
        perm = []
        for name in self.keypoint_names:
            twin = name
            for a, b in (("left", "right"), ("right", "left")):
                if a in name:
                    twin = name.replace(a, b)
                    break
            perm.append(self._index.get(twin, self._index[name]))
        return tuple(perm)

    def resolve(self, landmark_names: Sequence[str]) -> tuple[KeypointSource, ...]:
        """Decide, for a model providing ``landmark_names``, how each keypoint is produced.

        Landmark first (it matches the detector's definition better), then joint, else
        unavailable.
        """
        landmark_index = {n: i for i, n in enumerate(landmark_names)}
        sources = []
        for spec in self.keypoints:
            if spec.landmark is not None and spec.landmark in landmark_index:
                sources.append(KeypointSource("landmark", landmark_index[spec.landmark]))
            elif spec.joint is not None:
                sources.append(KeypointSource("joint", SMPL_JOINT_NAMES.index(spec.joint)))
            else:
                sources.append(KeypointSource("unavailable", -1))
        return tuple(sources)


def _same(name: str, *, joint: bool = True, landmark: bool = True) -> KeypointSpec:
    """A keypoint whose landmark and/or joint carry the keypoint's own name."""
    return KeypointSpec(
        name,
        landmark=name if landmark else None,
        joint=name if joint and name in SMPL_JOINT_NAMES else None,
    )


_FACE = {n: _same(n, joint=False) for n in ("nose", "left_eye", "right_eye", "left_ear",
                                              "right_ear")}
_LIMBS = {n: _same(n) for n in ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
                                 "left_wrist", "right_wrist", "left_hip", "right_hip",
                                 "left_knee", "right_knee", "left_ankle", "right_ankle")}
_NECK = KeypointSpec("neck", landmark="neck", joint="neck")
_MID_HIP = KeypointSpec("mid_hip", landmark="mid_hip", joint="pelvis")


def _smpl24() -> KeypointFormat:
    parents = (-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21)
    return KeypointFormat(
        name="smpl24",
        keypoints=tuple(KeypointSpec(n, joint=n) for n in SMPL_JOINT_NAMES),
        skeleton_edges=tuple((p, j) for j, p in enumerate(parents) if p >= 0),
        description="The 24 SMPL joints themselves (joint centres, SMPL order).",
    )


def _coco17() -> KeypointFormat:
    names = ("nose", "left_eye", "right_eye", "left_ear", "right_ear",
             "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
             "left_wrist", "right_wrist", "left_hip", "right_hip",
             "left_knee", "right_knee", "left_ankle", "right_ankle")
    table = {**_FACE, **_LIMBS}
    return KeypointFormat(
        name="coco17",
        keypoints=tuple(table[n] for n in names),
        skeleton_edges=((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12),
                        (5, 6), (5, 7), (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2),
                        (1, 3), (2, 4), (3, 5), (4, 6)),
        description="MS COCO person keypoints (17).",
    )


def _openpose18() -> KeypointFormat:
    names = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
             "left_shoulder", "left_elbow", "left_wrist", "right_hip", "right_knee",
             "right_ankle", "left_hip", "left_knee", "left_ankle", "right_eye", "left_eye",
             "right_ear", "left_ear")
    table = {**_FACE, **_LIMBS, "neck": _NECK}
    return KeypointFormat(
        name="openpose18",
        keypoints=tuple(table[n] for n in names),
        skeleton_edges=((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9),
                        (9, 10), (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16),
                        (0, 15), (15, 17)),
        description="OpenPose COCO-18 (also ROS4HRI hri_msgs/Skeleton2D order).",
    )


def _body25() -> KeypointFormat:
    names = ("nose", "neck", "right_shoulder", "right_elbow", "right_wrist",
             "left_shoulder", "left_elbow", "left_wrist", "mid_hip", "right_hip",
             "right_knee", "right_ankle", "left_hip", "left_knee", "left_ankle",
             "right_eye", "left_eye", "right_ear", "left_ear", "left_big_toe",
             "left_small_toe", "left_heel", "right_big_toe", "right_small_toe", "right_heel")
    feet = {n: _same(n, joint=False) for n in names if "toe" in n or "heel" in n}
    table = {**_FACE, **_LIMBS, **feet, "neck": _NECK, "mid_hip": _MID_HIP}
    return KeypointFormat(
        name="body25",
        keypoints=tuple(table[n] for n in names),
        skeleton_edges=((1, 8), (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (8, 9),
                        (9, 10), (10, 11), (8, 12), (12, 13), (13, 14), (1, 0), (0, 15),
                        (15, 17), (0, 16), (16, 18), (14, 19), (19, 20), (14, 21), (11, 22),
                        (22, 23), (11, 24)),
        description="OpenPose BODY_25.",
    )


def _blazepose33() -> KeypointFormat:
    names = ("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner",
             "right_eye", "right_eye_outer", "left_ear", "right_ear", "mouth_left",
             "mouth_right", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
             "left_wrist", "right_wrist", "left_pinky", "right_pinky", "left_index",
             "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
             "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel",
             "right_heel", "left_foot_index", "right_foot_index")
    extra = {n: _same(n, joint=False) for n in (
        "left_eye_inner", "left_eye_outer", "right_eye_inner", "right_eye_outer",
        "mouth_left", "mouth_right", "left_heel", "right_heel",
        "left_thumb", "left_index", "left_pinky", "right_thumb", "right_index", "right_pinky")}
    table = {
        **_FACE, **_LIMBS, **extra,
        # BlazePose's foot index is the tip of the big toe.
        "left_foot_index": KeypointSpec("left_foot_index", landmark="left_big_toe"),
        "right_foot_index": KeypointSpec("right_foot_index", landmark="right_big_toe"),
    }
    return KeypointFormat(
        name="blazepose33",
        keypoints=tuple(table[n] for n in names),
        skeleton_edges=((0, 1), (1, 2), (2, 3), (3, 7), (0, 4), (4, 5), (5, 6), (6, 8),
                        (9, 10), (11, 12), (11, 13), (13, 15), (15, 17), (15, 19), (15, 21),
                        (17, 19), (12, 14), (14, 16), (16, 18), (16, 20), (16, 22), (18, 20),
                        (11, 23), (12, 24), (23, 24), (23, 25), (24, 26), (25, 27), (26, 28),
                        (27, 29), (28, 30), (29, 31), (30, 32), (27, 31), (28, 32)),
        description="MediaPipe BlazePose, 33 landmarks.",
    )


_REGISTRY: dict[str, KeypointFormat] = {
    f.name: f for f in (_smpl24(), _coco17(), _openpose18(), _body25(), _blazepose33())
}
KEYPOINT_FORMAT_NAMES: tuple[str, ...] = tuple(_REGISTRY)


def get_keypoint_format(name: str | KeypointFormat) -> KeypointFormat:
    """The registered format called ``name`` (a :class:`KeypointFormat` is passed through)."""
    if isinstance(name, KeypointFormat):
        return name
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise KeypointFormatError(
            f"unknown keypoint format {name!r}; expected one of {', '.join(KEYPOINT_FORMAT_NAMES)}"
        ) from None
