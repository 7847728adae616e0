"""DeepMimic loader: frame layout, retargeted joint directions on the default body, errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lgd_ros.data import MotionFileError, MotionFileNotFoundError, load_deepmimic

# DeepMimic world (y up, facing +x, right = +z) -> corpus world (x left, y up, z front).
DM_TO_CORPUS = np.array([[0.0, 0.0, -1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
DOWN = np.array([0.0, -1.0, 0.0])


def _quat(frame: np.ndarray, start: int) -> Rotation:
    w, x, y, z = frame[start : start + 4]
    return Rotation.from_quat([x, y, z, w])


def _source_segments(frame: np.ndarray) -> dict[str, np.ndarray]:
    """Directions of DeepMimic limbs in the corpus world, by direct forward kinematics."""
    root = _quat(frame, 4)
    chest = root * _quat(frame, 8)
    out = {}
    for side, hip, knee, shoulder, elbow in (("right", 16, 20, 25, 29), ("left", 30, 34, 39, 43)):
        thigh = root * _quat(frame, hip)
        shin = thigh * Rotation.from_rotvec([0.0, 0.0, frame[knee]])
        upper = chest * _quat(frame, shoulder)
        fore = upper * Rotation.from_rotvec([0.0, 0.0, frame[elbow]])
        out[f"{side}_thigh"] = DM_TO_CORPUS @ thigh.apply(DOWN)
        out[f"{side}_shin"] = DM_TO_CORPUS @ shin.apply(DOWN)
        out[f"{side}_upper_arm"] = DM_TO_CORPUS @ upper.apply(DOWN)
        out[f"{side}_forearm"] = DM_TO_CORPUS @ fore.apply(DOWN)
    return out


SEGMENTS = {
    "thigh": ("hip", "knee"),
    "shin": ("knee", "ankle"),
    "upper_arm": ("shoulder", "elbow"),
    "forearm": ("elbow", "wrist"),
}


def test_walk_excerpt_loads_with_layout_and_rate(fixtures_dir: Path) -> None:
    clip = load_deepmimic(fixtures_dir / "deepmimic_walk_excerpt.txt")
    assert clip.poses.shape == (3, 72)
    assert clip.fps == pytest.approx(30.0, rel=1e-3)
    assert clip.clip_id == "deepmimic/deepmimic_walk_excerpt"
    assert clip.source == "deepmimic"
    # Walking forward along DeepMimic's +x is walking along the corpus world's +z.
    assert clip.transl is not None
    assert clip.transl[2, 2] - clip.transl[0, 2] > 0.5
    np.testing.assert_allclose(clip.poses[:, 66:], 0.0)  # SMPL hand joints


def test_limb_directions_match_the_source_on_the_body_model(
    fixtures_dir: Path, body_model, geom
) -> None:
    path = fixtures_dir / "deepmimic_walk_excerpt.txt"
    frames = np.asarray(json.loads(path.read_text())["Frames"])
    clip = load_deepmimic(path)
    joints = geom.posed_joints(body_model, clip.poses)
    for t in range(frames.shape[0]):
        source = _source_segments(frames[t])
        for side in ("left", "right"):
            for part, (a, b) in SEGMENTS.items():
                smpl = geom.segment(joints[t], f"{side}_{a}", f"{side}_{b}")
                error = geom.angle_deg(smpl, source[f"{side}_{part}"])
                assert error < 10.0, f"frame {t} {side} {part}: {error:.1f} deg off"


def test_walking_frame_knee_bends_forward_and_arms_hang(
    fixtures_dir: Path, body_model, geom
) -> None:
    clip = load_deepmimic(fixtures_dir / "deepmimic_walk_excerpt.txt")
    joints = geom.posed_joints(body_model, clip.poses[1:2])[0]  # walk frame 10: left leg swinging
    hip, knee, ankle = (joints[[1, 4, 7][k]] for k in range(3))
    # The bent knee sits in front (+z) of the hip-ankle line: the knee bends forward, the
    # shin trails backwards.
    assert knee[2] - 0.5 * (hip[2] + ankle[2]) > 0.05
    assert geom.segment(joints, "left_knee", "left_ankle")[2] < -0.3
    for side in ("left", "right"):
        upper_arm = geom.segment(joints, f"{side}_shoulder", f"{side}_elbow")
        assert upper_arm[1] < -0.85, f"{side} arm does not hang: {upper_arm}"


def test_rest_frame_gives_straight_body_with_hanging_arms(tmp_path: Path, body_model, geom) -> None:
    rest = [1 / 30, 0.0, 0.9, 0.0, 1.0, 0.0, 0.0, 0.0]
    for joint in (
        "chest",
        "neck",
        "r_hip",
        "r_knee",
        "r_ankle",
        "r_sho",
        "r_elb",
        "l_hip",
        "l_knee",
        "l_ankle",
        "l_sho",
        "l_elb",
    ):
        rest += [0.0] if joint.endswith(("knee", "elb")) else [1.0, 0.0, 0.0, 0.0]
    path = tmp_path / "rest.txt"
    path.write_text(json.dumps({"Loop": "none", "Frames": [rest, rest]}))
    clip = load_deepmimic(path)
    per_joint = clip.poses[0].reshape(24, 3)
    np.testing.assert_allclose(per_joint[[0, 1, 2, 4, 5, 3, 6, 9]], 0.0, atol=1e-6)
    joints = geom.posed_joints(body_model, clip.poses[:1])[0]
    for side in ("left", "right"):
        assert geom.segment(joints, f"{side}_shoulder", f"{side}_wrist")[1] < -0.95
        assert geom.segment(joints, f"{side}_hip", f"{side}_ankle")[1] < -0.95


def test_errors_name_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(MotionFileNotFoundError, match=r"nope.txt"):
        load_deepmimic(missing)
    garbage = tmp_path / "garbage.txt"
    garbage.write_bytes(b"\x00\x01not json")
    with pytest.raises(MotionFileError, match=r"garbage.txt.*JSON"):
        load_deepmimic(garbage)
    laikago = tmp_path / "laikago.txt"
    laikago.write_text(json.dumps({"Frames": [[0.1] * 20]}))
    with pytest.raises(MotionFileError, match=r"laikago.txt.*\[T>0, 44\].*\[1, 20\]"):
        load_deepmimic(laikago)
    no_frames = tmp_path / "other.txt"
    no_frames.write_text(json.dumps({"Loop": "wrap"}))
    with pytest.raises(MotionFileError, match=r"other.txt.*Frames"):
        load_deepmimic(no_frames)
