"""BVH loader: a skeleton written by the test (arms down, facing +x), joint maps, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lgd_ros.data import JointMapError, MotionFileError, load_bvh, parse_bvh

# A rig that differs from SMPL on purpose: it faces +x (left = -z), its arms hang down in the
# rest pose, and its rotation channels are ordered Z X Y. Units: centimetres.
JOINTS = [
    # name, parent, offset from the parent
    ("Hips", None, (0, 95, 0)),
    ("Spine", "Hips", (0, 12, 0)),
    ("Chest", "Spine", (0, 25, 0)),
    ("Neck", "Chest", (0, 18, 0)),
    ("Head", "Neck", (0, 10, 0)),
    ("LeftShoulder", "Chest", (0, 14, -6)),
    ("LeftArm", "LeftShoulder", (0, 0, -12)),
    ("LeftForeArm", "LeftArm", (0, -28, 0)),
    ("LeftHand", "LeftForeArm", (0, -25, 0)),
    ("RightShoulder", "Chest", (0, 14, 6)),
    ("RightArm", "RightShoulder", (0, 0, 12)),
    ("RightForeArm", "RightArm", (0, -28, 0)),
    ("RightHand", "RightForeArm", (0, -25, 0)),
    ("LeftUpLeg", "Hips", (0, -5, -9)),
    ("LeftLeg", "LeftUpLeg", (0, -42, 0)),
    ("LeftFoot", "LeftLeg", (0, -41, 0)),
    ("RightUpLeg", "Hips", (0, -5, 9)),
    ("RightLeg", "RightUpLeg", (0, -42, 0)),
    ("RightFoot", "RightLeg", (0, -41, 0)),
]
END_SITES = {
    "Head": (0, 15, 0),
    "LeftHand": (0, -8, 0),
    "RightHand": (0, -8, 0),
    "LeftFoot": (14, -6, 0),
    "RightFoot": (14, -6, 0),
}
MAP = {
    "pelvis": "Hips",
    "spine1": "Spine",
    "spine3": "Chest",
    "neck": "Neck",
    "head": "Head",
    "left_collar": "LeftShoulder",
    "left_shoulder": "LeftArm",
    "left_elbow": "LeftForeArm",
    "left_wrist": "LeftHand",
    "right_collar": "RightShoulder",
    "right_shoulder": "RightArm",
    "right_elbow": "RightForeArm",
    "right_wrist": "RightHand",
    "left_hip": "LeftUpLeg",
    "left_knee": "LeftLeg",
    "left_ankle": "LeftFoot",
    "right_hip": "RightUpLeg",
    "right_knee": "RightLeg",
    "right_ankle": "RightFoot",
}


def write_bvh(
    path: Path, frames: list[dict[str, tuple[float, float, float]]], prefix: str = ""
) -> None:
    """Write the rig above; ``frames`` give (Z, X, Y) degrees per joint (default zero)."""
    lines = ["HIERARCHY"]
    order: list[str] = []  # channel blocks follow the order joints appear in the hierarchy

    def emit(name: str, depth: int) -> None:
        pad = "  " * depth
        parent = next(p for n, p, _ in JOINTS if n == name)
        offset = next(o for n, _, o in JOINTS if n == name)
        keyword = "ROOT" if parent is None else "JOINT"
        order.append(name)
        lines.append(f"{pad}{keyword} {prefix}{name}")
        lines.append(pad + "{")
        lines.append(f"{pad}  OFFSET {offset[0]} {offset[1]} {offset[2]}")
        if parent is None:
            lines.append(
                f"{pad}  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation"
            )
        else:
            lines.append(f"{pad}  CHANNELS 3 Zrotation Xrotation Yrotation")
        for child, child_parent, _ in JOINTS:
            if child_parent == name:
                emit(child, depth + 1)
        if name in END_SITES:
            end = END_SITES[name]
            lines.extend(
                [
                    f"{pad}  End Site",
                    pad + "  {",
                    f"{pad}    OFFSET {end[0]} {end[1]} {end[2]}",
                    pad + "  }",
                ]
            )
        lines.append(pad + "}")

    emit("Hips", 0)
    lines += ["MOTION", f"Frames: {len(frames)}", "Frame Time: 0.04"]
    for number, frame in enumerate(frames):
        values = [10.0 * number, 95.0, 0.0]  # walks along +x: the body's front
        for name in order:
            values += list(frame.get(name, (0.0, 0.0, 0.0)))
        lines.append(" ".join(f"{v:g}" for v in values))
    path.write_text("\n".join(lines) + "\n")


def test_rest_pose_and_translation(tmp_path: Path, body_model, geom) -> None:
    path = tmp_path / "rig.bvh"
    write_bvh(path, [{}, {}])
    clip = load_bvh(path, MAP)
    assert clip.poses.shape == (2, 72)
    assert clip.fps == pytest.approx(25.0)
    # The rig walks along its +x, the body's front: +z in the corpus world; cm -> m.
    assert clip.transl is not None
    np.testing.assert_allclose(clip.transl[1] - clip.transl[0], [0.0, 0.0, 0.1], atol=1e-6)
    joints = geom.posed_joints(body_model, clip.poses[:1])[0]
    np.testing.assert_allclose(clip.poses[0, :3], 0.0, atol=1e-6)  # faces +z, upright
    for side in ("left", "right"):
        assert geom.segment(joints, f"{side}_shoulder", f"{side}_wrist")[1] < -0.98  # arms hang
        assert geom.segment(joints, f"{side}_hip", f"{side}_ankle")[1] < -0.98


def test_bent_knee_and_raised_arm_point_the_right_way(tmp_path: Path, body_model, geom) -> None:
    # Rig axes: x front, y up, z right. Knee: -90 about z swings the shin back (-x);
    # left arm: +90 about z swings it forward (+x); right elbow: +90 about z, forearm forward.
    frame = {
        "LeftLeg": (-90.0, 0.0, 0.0),
        "LeftArm": (90.0, 0.0, 0.0),
        "RightForeArm": (90.0, 0.0, 0.0),
    }
    path = tmp_path / "moves.bvh"
    write_bvh(path, [frame])
    clip = load_bvh(path, MAP)
    joints = geom.posed_joints(body_model, clip.poses)[0]
    front, back, down = np.array([0, 0, 1.0]), np.array([0, 0, -1.0]), np.array([0, -1.0, 0])
    assert geom.angle_deg(geom.segment(joints, "left_knee", "left_ankle"), back) < 10
    assert geom.angle_deg(geom.segment(joints, "left_hip", "left_knee"), down) < 10
    assert geom.angle_deg(geom.segment(joints, "left_shoulder", "left_elbow"), front) < 5
    assert geom.angle_deg(geom.segment(joints, "right_shoulder", "right_elbow"), down) < 5
    assert geom.angle_deg(geom.segment(joints, "right_elbow", "right_wrist"), front) < 5


def test_prefixed_names_and_presets(tmp_path: Path) -> None:
    path = tmp_path / "mixamo.bvh"
    write_bvh(path, [{}], prefix="mixamorig:")
    motion = parse_bvh(path)
    assert motion.find("LeftForeArm") == motion.find("mixamorig:LeftForeArm") is not None
    clip = load_bvh(path, MAP)
    assert clip.num_frames == 1
    with pytest.raises(JointMapError, match=r"unknown BVH joint map 'blender'"):
        load_bvh(path, "blender")
    with pytest.raises(JointMapError, match=r"BVH joint 'Spine1' \(for spine2\).*mixamo.bvh"):
        load_bvh(path, "mixamo")  # the preset expects Spine, Spine1, Spine2
    with pytest.raises(JointMapError, match=r"'tail' is not an SMPL joint"):
        load_bvh(path, {**MAP, "tail": "Hips"})


def test_corrupt_bvh_files_name_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.bvh"
    write_bvh(good, [{}, {}])
    text = good.read_text()
    truncated = tmp_path / "truncated.bvh"
    truncated.write_text(text[: len(text) - 40])
    with pytest.raises(MotionFileError, match=r"truncated.bvh.*expected 2 frames"):
        load_bvh(truncated, MAP)
    not_bvh = tmp_path / "photo.bvh"
    not_bvh.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(MotionFileError, match=r"photo.bvh.*HIERARCHY"):
        load_bvh(not_bvh, MAP)
    no_motion = tmp_path / "nomotion.bvh"
    no_motion.write_text(text.split("MOTION")[0])
    with pytest.raises(MotionFileError, match=r"nomotion.bvh.*MOTION"):
        load_bvh(no_motion, MAP)
    bad_channel = tmp_path / "channel.bvh"
    bad_channel.write_text(
        text.replace("Zrotation Xrotation Yrotation", "Zrotation Xrotation Wrotation", 1)
    )
    with pytest.raises(MotionFileError, match=r"channel.bvh.*'wrotation'"):
        load_bvh(bad_channel, MAP)
