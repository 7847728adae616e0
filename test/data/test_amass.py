"""AMASS loader on AMASS-format files the tests write (SMPL-H, SMPL-X, shape files, corrupt)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from lgd_ros.data import (
    MotionFileError,
    MotionFileNotFoundError,
    build_corpus_from_sequences,
    load_amass_directory,
    load_amass_npz,
    load_pose_corpus,
)
from lgd_ros.data.amass import iter_amass_directory


def write_smplh(
    path: Path, frames: int = 5, rate: float = 60.0, seed: int = 0
) -> dict[str, np.ndarray]:
    """An AMASS SMPL-H file: an upright body in AMASS's z-up world, random body and hand pose."""
    rng = np.random.default_rng(seed)
    poses = rng.normal(0.0, 0.2, size=(frames, 156))
    # SMPL's canonical y-up body stood upright in a z-up world: Rx(+90 deg) maps y to z.
    poses[:, :3] = Rotation.from_euler("x", 90, degrees=True).as_rotvec()
    arrays = {
        "poses": poses,
        "trans": rng.normal(size=(frames, 3)),
        "betas": rng.normal(size=16),
        "gender": np.array("female"),
        "mocap_framerate": np.array(rate),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def test_smplh_file_keeps_body_zeroes_hands_and_turns_z_up_to_y_up(tmp_path: Path) -> None:
    arrays = write_smplh(tmp_path / "walk_poses.npz")
    clip = load_amass_npz(tmp_path / "walk_poses.npz")
    assert clip.poses.shape == (5, 72)
    assert clip.fps == 60.0
    assert clip.source == "amass" and "never redistribute" in clip.licence
    np.testing.assert_allclose(clip.poses[:, 3:66], arrays["poses"][:, 3:66], atol=1e-6)
    np.testing.assert_allclose(clip.poses[:, 66:], 0.0)  # SMPL hands 22, 23: no SMPL-H fingers
    np.testing.assert_allclose(clip.poses[:, :3], 0.0, atol=1e-6)  # upright in the y-up world
    assert clip.betas is not None
    np.testing.assert_allclose(clip.betas, arrays["betas"][:10], rtol=1e-6)
    # z-up (x, y, z) -> y-up (x, z, -y).
    expected = arrays["trans"][:, [0, 2, 1]] * np.array([1.0, 1.0, -1.0])
    assert clip.transl is not None
    np.testing.assert_allclose(clip.transl, expected, atol=1e-6)


def test_smplx_split_arrays_and_y_up_option(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    root, body = rng.normal(size=(4, 3)), rng.normal(size=(4, 63))
    path = tmp_path / "smplx.npz"
    np.savez(
        path,
        root_orient=root,
        pose_body=body,
        mocap_frame_rate=np.array(30.0),
        betas=np.zeros(16),
        trans=np.zeros((4, 3)),
    )
    clip = load_amass_npz(path, world_up="y", clip_id="amass/x")
    np.testing.assert_allclose(clip.poses[:, :3], root, atol=1e-6)
    np.testing.assert_allclose(clip.poses[:, 3:66], body, atol=1e-6)
    assert clip.fps == 30.0 and clip.clip_id == "amass/x"


def test_resampling_while_loading(tmp_path: Path) -> None:
    write_smplh(tmp_path / "long.npz", frames=121, rate=120.0)
    clip = load_amass_npz(tmp_path / "long.npz", target_fps=30.0)
    assert clip.num_frames == 31 and clip.fps == 30.0


def test_directory_is_sorted_recursive_and_skips_shape_files(tmp_path: Path) -> None:
    write_smplh(tmp_path / "CMU" / "02" / "02_01_poses.npz", seed=2)
    write_smplh(tmp_path / "CMU" / "01" / "01_01_poses.npz", seed=1)
    np.savez(tmp_path / "CMU" / "01" / "shape.npz", betas=np.zeros(16), gender=np.array("male"))
    clips = load_amass_directory(tmp_path)
    assert [c.clip_id for c in clips] == ["amass/CMU/01/01_01_poses", "amass/CMU/02/02_01_poses"]


def test_bad_files_and_directories_name_the_path(tmp_path: Path) -> None:
    corrupt = tmp_path / "data" / "broken_poses.npz"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(MotionFileError, match=r"broken_poses.npz"):
        load_amass_npz(corrupt)
    with pytest.raises(MotionFileError, match=r"broken_poses.npz"):
        load_amass_directory(tmp_path / "data")
    with (
        pytest.warns(UserWarning, match=r"broken_poses.npz"),
        pytest.raises(MotionFileError, match=r"no AMASS motion files"),
    ):
        load_amass_directory(tmp_path / "data", skip_invalid=True)

    wrong_width = tmp_path / "wrong.npz"
    np.savez(wrong_width, poses=np.zeros((3, 100)), mocap_framerate=np.array(60.0))
    with pytest.raises(MotionFileError, match=r"wrong.npz.*\[T, 156\].*\[3, 100\]"):
        load_amass_npz(wrong_width)
    no_rate = tmp_path / "norate.npz"
    np.savez(no_rate, poses=np.zeros((3, 156)))
    with pytest.raises(MotionFileError, match=r"norate.npz.*mocap_framerate"):
        load_amass_npz(no_rate)
    shape = tmp_path / "shape.npz"
    np.savez(shape, betas=np.zeros(16))
    with pytest.raises(MotionFileError, match=r"shape.npz.*shape file"):
        load_amass_npz(shape)
    with pytest.raises(MotionFileNotFoundError, match=r"no_such_dir"):
        load_amass_directory(tmp_path / "no_such_dir")


def test_amass_stream_builds_a_corpus_and_the_builder_cli_takes_amass(tmp_path: Path) -> None:
    for seed, name in enumerate(("A/a_poses.npz", "A/b_poses.npz", "B/c_poses.npz")):
        write_smplh(tmp_path / "amass" / name, frames=12, seed=seed)
    corpus = build_corpus_from_sequences(iter_amass_directory(tmp_path / "amass"))
    assert len(corpus.clips) == 6  # three clips and their mirrors
    assert {c.source for c in corpus.clips} == {"amass"}
    assert corpus.num_poses > 6

    tool = Path(__file__).resolve().parents[2] / "tools" / "build_pose_corpus.py"
    output = tmp_path / "private.npz"
    subprocess.run(
        [sys.executable, str(tool), "--amass", str(tmp_path / "amass"), "--output", str(output)],
        check=True,
        capture_output=True,
    )
    built = load_pose_corpus(output)
    assert built.version == "pose_corpus_v3+amass" and len(built.clips) == 6
