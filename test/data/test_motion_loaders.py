"""load_motion_file: dispatch by extension, and clear errors for unknown or lone files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lgd_ros.data import (
    MotionFileError,
    MotionFileNotFoundError,
    PoseInputError,
    PoseSequence,
    UnknownMotionFormatError,
    load_motion_file,
)


def test_dispatch_by_extension(fixtures_dir: Path, tmp_path: Path) -> None:
    walk = load_motion_file(fixtures_dir / "deepmimic_walk_excerpt.txt")
    assert walk.source == "deepmimic"
    # An .amc finds the only .asf beside it.
    shutil.copy(fixtures_dir / "cmu_excerpt.amc", tmp_path / "01_01.amc")
    shutil.copy(fixtures_dir / "cmu_excerpt.asf", tmp_path / "01.asf")
    cmu = load_motion_file(tmp_path / "01_01.amc")
    assert cmu.source == "cmu" and cmu.num_frames == 3
    np.savez(tmp_path / "m.npz", poses=np.zeros((2, 156)), mocap_framerate=np.array(50.0))
    assert load_motion_file(tmp_path / "m.npz").fps == 50.0


def test_unknown_and_lone_files_are_named(tmp_path: Path, fixtures_dir: Path) -> None:
    fbx = tmp_path / "clip.fbx"
    fbx.write_bytes(b"Kaydara FBX Binary")
    with pytest.raises(UnknownMotionFormatError, match=r"clip.fbx.*'.fbx'.*supported"):
        load_motion_file(fbx)
    asf = tmp_path / "skel.asf"
    shutil.copy(fixtures_dir / "cmu_excerpt.asf", asf)
    with pytest.raises(UnknownMotionFormatError, match=r"skel.asf.*only a skeleton"):
        load_motion_file(asf)
    with pytest.raises(MotionFileNotFoundError, match=r"gone.bvh"):
        load_motion_file(tmp_path / "gone.bvh")
    bvh = tmp_path / "a.bvh"
    bvh.write_text("HIERARCHY\n")
    with pytest.raises(MotionFileError, match=r"a.bvh.*joint_map"):
        load_motion_file(bvh)
    orphan = tmp_path / "lonely" / "x.amc"
    orphan.parent.mkdir()
    orphan.write_text("1\nroot 0 0 0 0 0 0\n")
    with pytest.raises(MotionFileError, match=r"x.amc.*pass asf="):
        load_motion_file(orphan)


def test_pose_sequence_validates_its_arrays() -> None:
    with pytest.raises(PoseInputError, match=r"'c'.*\[T, 72\].*\(3, 70\)"):
        PoseSequence(poses=np.zeros((3, 70)), fps=30.0, clip_id="c", source="s", licence="l")
    with pytest.raises(PoseInputError, match=r"NaN"):
        PoseSequence(poses=np.full((3, 72), np.nan), fps=30.0, clip_id="c", source="s", licence="l")
    with pytest.raises(PoseInputError, match=r"transl"):
        PoseSequence(
            poses=np.zeros((3, 72)),
            fps=30.0,
            clip_id="c",
            source="s",
            licence="l",
            transl=np.zeros((2, 3)),
        )
