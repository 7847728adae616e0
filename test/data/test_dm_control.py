"""dm_control CMU humanoid clips (envpool-assets container + MJCF) -> SMPL poses."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from lgd_ros.data import MotionFileError, MotionFileNotFoundError
from lgd_ros.data.dm_control import (
    DM_CONTROL_BODY_ORDER,
    load_dm_control_clips,
    parse_cmu_humanoid_mjcf,
    read_envpool_mocap,
)
from lgd_ros.data.retarget import world_frame_change

EXCERPT = "dm_control_walk_excerpt.bin"
MJCF = "dm_control_humanoid_CMU_V2020.xml"

# SMPL segment -> (body at its start, body at its end) of the humanoid.
LIMBS = {
    ("left_hip", "left_knee"): ("lfemur", "ltibia"),
    ("left_knee", "left_ankle"): ("ltibia", "lfoot"),
    ("right_hip", "right_knee"): ("rfemur", "rtibia"),
    ("right_knee", "right_ankle"): ("rtibia", "rfoot"),
    ("left_shoulder", "left_elbow"): ("lhumerus", "lradius"),
    ("left_elbow", "left_wrist"): ("lradius", "lhand"),
    ("right_shoulder", "right_elbow"): ("rhumerus", "rradius"),
    ("right_elbow", "right_wrist"): ("rradius", "rhand"),
}


def _write_container(path: Path, clips: dict[str, tuple[float, dict[str, np.ndarray]]]) -> None:
    def text(value: str) -> bytes:
        raw = value.encode()
        return struct.pack("<I", len(raw)) + raw

    out = bytearray(b"EPMOCAP1") + struct.pack("<I", len(clips))
    for key, (dt, features) in clips.items():
        frames = next(iter(features.values())).shape[0]
        out += text(key) + struct.pack("<IdI", frames, dt, len(features))
        for name, values in features.items():
            out += text(name) + struct.pack("<I", values.shape[1])
            out += np.ascontiguousarray(values, dtype="<f4").tobytes()
    path.write_bytes(bytes(out))


def _excerpt_features(fixtures_dir: Path) -> dict[str, np.ndarray]:
    clip = read_envpool_mocap(fixtures_dir / EXCERPT)["CMU_016_22"]
    return {name: values.copy() for name, values in clip.features.items()}


def test_container_reads_clip_rate_and_features(fixtures_dir: Path) -> None:
    clips = read_envpool_mocap(fixtures_dir / EXCERPT)
    assert list(clips) == ["CMU_016_22"]
    clip = clips["CMU_016_22"]
    assert clip.num_frames == 3
    assert clip.dt == pytest.approx(0.03)
    assert {k: v.shape for k, v in clip.features.items()} == {
        "position": (3, 3), "quaternion": (3, 4), "body_positions": (3, 93),
        "body_quaternions": (3, 124)}


def test_mjcf_rest_pose_has_the_cmu_bones(fixtures_dir: Path) -> None:
    rest = parse_cmu_humanoid_mjcf(fixtures_dir / MJCF)
    assert rest.parent["lfemur"] == "lhipjoint" and rest.parent["lhand"] == "lwrist"
    assert {b for b in DM_CONTROL_BODY_ORDER if b} <= set(rest.parent)
    # As in CMU's ASF skeletons: the left hip is at +x and the legs are splayed outwards
    # by 20 degrees in the rest pose.
    assert (rest.rotation["lhipjoint"] @ rest.offset["lfemur"])[0] > 0.05
    for body, end in (("lfemur", "ltibia"), ("ltibia", "lfoot")):
        direction = rest.rotation[body] @ rest.offset[end]
        np.testing.assert_allclose(direction / np.linalg.norm(direction),
                                   [np.sin(np.radians(20)), -np.cos(np.radians(20)), 0], atol=1e-5)


def test_limbs_point_where_the_captured_bodies_do(fixtures_dir: Path, body_model, geom) -> None:
    """Checked against the clip's own body positions, which the loader does not use."""
    (clip,) = load_dm_control_clips(fixtures_dir / EXCERPT, fixtures_dir / MJCF)
    assert clip.clip_id == "cmu_dm_control/CMU_016_22"
    assert clip.fps == pytest.approx(33.333, rel=1e-4)
    assert clip.source == "cmu"
    np.testing.assert_allclose(clip.poses[:, 66:], 0.0)  # SMPL's hand joints stay zero
    raw = read_envpool_mocap(fixtures_dir / EXCERPT)["CMU_016_22"]
    to_corpus = world_frame_change((0.0, 0.0, 1.0), (1.0, 0.0, 0.0))  # z-up world -> y up
    bodies = raw.features["body_positions"].reshape(-1, 31, 3).astype(np.float64) @ to_corpus.T
    row = {name: i for i, name in enumerate(DM_CONTROL_BODY_ORDER) if name}
    joints = geom.posed_joints(body_model, clip.poses)
    for (start, end), (body, body_end) in LIMBS.items():
        captured = bodies[:, row[body_end]] - bodies[:, row[body]]
        error = geom.angle_deg(geom.segment(joints, start, end), captured)
        assert error.max() < 2.0, f"{start}->{end} vs {body}: {error.max():.1f} deg"
    assert (geom.segment(joints, "pelvis", "neck")[:, 1] > 0.9).all()  # walking upright
    # The root translation is the captured one in the corpus world (y up, metres).
    np.testing.assert_allclose(clip.transl, raw.features["position"] @ to_corpus.T, atol=1e-6)
    assert 0.9 < clip.transl[0, 1] < 1.2


def test_bad_containers_are_refused_with_the_file_named(fixtures_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(MotionFileNotFoundError):
        read_envpool_mocap(tmp_path / "missing.bin")
    foreign = tmp_path / "foreign.bin"
    foreign.write_bytes(b"BVH HIERARCHY")
    with pytest.raises(MotionFileError, match="foreign.bin: not an envpool mocap container"):
        read_envpool_mocap(foreign)
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes((fixtures_dir / EXCERPT).read_bytes()[:-10])
    with pytest.raises(MotionFileError, match="truncated.bin.*truncated"):
        read_envpool_mocap(truncated)
    with pytest.raises(MotionFileError, match="no clip 'CMU_999_01'"):
        load_dm_control_clips(fixtures_dir / EXCERPT, fixtures_dir / MJCF, clip_ids=["CMU_999_01"])


def test_missing_features_nan_and_foreign_body_order_are_refused(
    fixtures_dir: Path, tmp_path: Path
) -> None:
    features = _excerpt_features(fixtures_dir)
    cases = {
        "no_quaternions": ({k: v for k, v in features.items() if k != "body_quaternions"},
                           "no feature body_quaternions"),
        "nan": ({**features, "position": np.full_like(features["position"], np.nan)}, "NaN"),
    }
    # Swapping the left and right legs' rows breaks the parent offsets the loader checks.
    swapped = features["body_quaternions"].reshape(3, 31, 4)[:, list(range(5, 10)) + list(range(5)) + list(range(10, 31))]
    cases["order"] = ({**features, "body_quaternions": swapped.reshape(3, 124)}, "not in the CMU humanoid's order")
    for name, (clip_features, message) in cases.items():
        path = tmp_path / f"{name}.bin"
        _write_container(path, {"CMU_016_22": (0.03, clip_features)})
        with pytest.raises(MotionFileError, match=message):
            load_dm_control_clips(path, fixtures_dir / MJCF)


def test_an_mjcf_without_the_cmu_humanoid_is_refused(fixtures_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "ant.xml"
    other.write_text("<mujoco><worldbody><body name='torso'/></worldbody></mujoco>")
    with pytest.raises(MotionFileError, match="ant.xml: no body named 'root'"):
        parse_cmu_humanoid_mjcf(other)
    broken = tmp_path / "broken.xml"
    broken.write_text("<mujoco><worldbody>")
    with pytest.raises(MotionFileError, match="broken.xml: not a readable MJCF"):
        parse_cmu_humanoid_mjcf(broken)
    no_arms = tmp_path / "no_arms.xml"
    no_arms.write_text("<mujoco><worldbody><body name='root'><body name='lhipjoint'/></body>"
                       "</worldbody></mujoco>")
    with pytest.raises(MotionFileError, match="not the CMU humanoid"):
        load_dm_control_clips(fixtures_dir / EXCERPT, no_arms)
