"""CMU ASF/AMC loader: parsing, retargeted joint directions on the default body, errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lgd_ros.data import (
    MotionFileError,
    MotionFileNotFoundError,
    load_asf_amc,
    parse_amc,
    parse_asf,
)
from lgd_ros.data.errors import JointMapError

# SMPL segment (start joint, end joint) -> CMU bone that spans it.
LIMBS = {
    ("left_hip", "left_knee"): "lfemur",
    ("left_knee", "left_ankle"): "ltibia",
    ("right_hip", "right_knee"): "rfemur",
    ("right_knee", "right_ankle"): "rtibia",
    ("left_shoulder", "left_elbow"): "lhumerus",
    ("left_elbow", "left_wrist"): "lradius",
    ("right_shoulder", "right_elbow"): "rhumerus",
    ("right_elbow", "right_wrist"): "rradius",
}


def _cmu_bone_directions(asf: Path, amc: Path) -> list[dict[str, np.ndarray]]:
    """Posed world direction of every CMU bone, by a direct (SciPy) Acclaim forward kinematics.

    B_b = B_parent A_b M_b A_b^-1 with A from the bone's ``axis`` (fixed-axis XYZ Euler) and M
    from its dof values in degrees; the bone points along B_b direction_b.
    """
    skeleton = parse_asf(asf)
    motion = parse_amc(amc, skeleton)
    frames = motion["root"].shape[0]
    result = []
    for t in range(frames):
        rotations: dict[str, Rotation] = {}
        directions = {}
        for name in skeleton.bone_order():
            bone = skeleton.bones[name]
            axis = Rotation.from_euler("xyz", bone.axis_angles)
            if name == "root":
                angles = dict(zip(skeleton.root_order, motion["root"][t], strict=True))
            else:
                angles = dict(zip(bone.dofs, motion[name][t], strict=True)) if bone.dofs else {}
            local = Rotation.from_euler(
                "xyz", [angles.get(f"r{a}", 0.0) for a in "xyz"], degrees=True
            )
            relative = axis * local * axis.inv()
            rotations[name] = relative if bone.parent is None else rotations[bone.parent] * relative
            directions[name] = rotations[name].apply(bone.direction)
        result.append(directions)
    return result


def test_parse_asf_reads_bones_units_and_hierarchy(fixtures_dir: Path) -> None:
    skeleton = parse_asf(fixtures_dir / "cmu_excerpt.asf")
    assert len(skeleton.bones) == 31  # 30 bones + root
    assert skeleton.length_unit == pytest.approx(0.45)
    assert skeleton.bones["lfemur"].parent == "lhipjoint"
    assert skeleton.bones["lfemur"].dofs == ("rx", "ry", "rz")
    assert skeleton.bones["ltibia"].dofs == ("rx",)
    np.testing.assert_allclose(skeleton.bones["lfemur"].axis_angles, np.radians([0, 0, 20]))
    assert skeleton.root_order == ("tx", "ty", "tz", "rx", "ry", "rz")


def test_excerpt_loads_with_rate_and_metric_translation(fixtures_dir: Path) -> None:
    clip = load_asf_amc(fixtures_dir / "cmu_excerpt.asf", fixtures_dir / "cmu_excerpt.amc")
    assert clip.poses.shape == (3, 72)
    assert clip.fps == 120.0
    assert clip.source == "cmu"
    assert clip.transl is not None
    # Root height 17.87 units of 1/0.45 inch = 1.009 m.
    assert clip.transl[0, 1] == pytest.approx(17.8693 / 0.45 * 0.0254, rel=1e-5)
    np.testing.assert_allclose(clip.poses[:, 66:], 0.0)


def test_limb_directions_match_the_cmu_skeleton_on_the_body_model(
    fixtures_dir: Path, body_model, geom
) -> None:
    asf, amc = fixtures_dir / "cmu_excerpt.asf", fixtures_dir / "cmu_excerpt.amc"
    clip = load_asf_amc(asf, amc)
    joints = geom.posed_joints(body_model, clip.poses)
    expected = _cmu_bone_directions(asf, amc)
    for t in range(clip.num_frames):
        for (start, end), bone in LIMBS.items():
            error = geom.angle_deg(geom.segment(joints[t], start, end), expected[t][bone])
            assert error < 3.0, f"frame {t} {start}->{end} vs {bone}: {error:.1f} deg"


def test_first_frame_left_elbow_is_bent_and_body_upright(
    fixtures_dir: Path, body_model, geom
) -> None:
    clip = load_asf_amc(fixtures_dir / "cmu_excerpt.asf", fixtures_dir / "cmu_excerpt.amc")
    joints = geom.posed_joints(body_model, clip.poses[:1])[0]
    upper = geom.segment(joints, "left_shoulder", "left_elbow")
    fore = geom.segment(joints, "left_elbow", "left_wrist")
    assert geom.angle_deg(upper, fore) > 90.0  # lradius dof: 136 degrees of flexion
    assert geom.segment(joints, "pelvis", "neck")[1] > 0.95  # standing upright, y up
    assert geom.segment(joints, "right_shoulder", "right_elbow")[1] < -0.7  # right arm down


def test_asf_and_amc_errors_name_the_file(fixtures_dir: Path, tmp_path: Path) -> None:
    asf = tmp_path / "subject.asf"
    shutil.copy(fixtures_dir / "cmu_excerpt.asf", asf)
    with pytest.raises(MotionFileNotFoundError, match=r"missing.amc"):
        load_asf_amc(asf, tmp_path / "missing.amc")

    no_hierarchy = tmp_path / "broken.asf"
    no_hierarchy.write_text(asf.read_text().split(":hierarchy")[0])
    with pytest.raises(MotionFileError, match=r"broken.asf.*hierarchy"):
        parse_asf(no_hierarchy)

    unknown_bone = tmp_path / "unknown.amc"
    unknown_bone.write_text(":FULLY-SPECIFIED\n:DEGREES\n1\nroot 0 0 0 0 0 0\ntail 1 2 3\n")
    with pytest.raises(MotionFileError, match=r"unknown.amc.*'tail'"):
        load_asf_amc(asf, unknown_bone)

    wrong_count = tmp_path / "count.amc"
    wrong_count.write_text(":FULLY-SPECIFIED\n:DEGREES\n1\nroot 0 0 0 0 0 0\nlfemur 1 2\n")
    with pytest.raises(MotionFileError, match=r"count.amc.*lfemur.*expected 3 values"):
        load_asf_amc(asf, wrong_count)

    text = tmp_path / "empty.amc"
    text.write_text(":FULLY-SPECIFIED\n:DEGREES\n")
    with pytest.raises(MotionFileError, match=r"empty.amc.*no frames"):
        load_asf_amc(asf, text)

    binary = tmp_path / "binary.asf"
    binary.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(MotionFileError, match=r"binary.asf"):
        parse_asf(binary)


def test_joint_map_naming_a_missing_bone_is_rejected(fixtures_dir: Path) -> None:
    with pytest.raises(JointMapError, match=r"'lclaw'"):
        load_asf_amc(
            fixtures_dir / "cmu_excerpt.asf",
            fixtures_dir / "cmu_excerpt.amc",
            joint_map={"pelvis": "root", "left_hip": "lclaw", "right_hip": "rfemur"},
        )
