"""The synthetic sampler's shared views and frame runs (what tracked warm starts train on)."""

from __future__ import annotations

import pytest
import torch

from lgd_ros.data import load_pose_corpus
from lgd_ros.fitting.synthetic import (
    SyntheticBatch,
    frame_run_indices,
    sample_batch,
    sample_frame_runs,
)


@pytest.fixture(scope="module")
def val_split() -> tuple[torch.Tensor, torch.Tensor]:
    corpus = load_pose_corpus()
    mask = corpus.split_mask("val")
    return corpus.poses[mask].float(), corpus.clip_index[mask]


def test_view_groups_share_camera_shape_and_placement(body_model, val_split) -> None:
    poses, _ = val_split
    layer = body_model.keypoint_layer("coco17")
    groups = torch.tensor([0, 1, 0, 2, 1, 2])
    batch = sample_batch(poses, layer, 6, torch.Generator().manual_seed(3),
                         indices=torch.tensor([5, 9, 6, 40, 10, 41]), view_groups=groups)
    for g in range(3):
        a, b = torch.nonzero(groups == g).flatten().tolist()
        assert torch.equal(batch.intrinsics[a], batch.intrinsics[b])
        assert torch.equal(batch.betas[a], batch.betas[b])
        assert torch.equal(batch.image_size[a], batch.image_size[b])
        # Same depth (from the group's first frame), different poses: different keypoints.
        assert batch.pelvis[a, 2] == batch.pelvis[b, 2]
        assert not torch.equal(batch.keypoints_px[a], batch.keypoints_px[b])
    assert not torch.equal(batch.intrinsics[0], batch.intrinsics[1])
    assert not torch.equal(batch.betas[0], batch.betas[3])


def test_view_groups_shape_is_checked(body_model, val_split) -> None:
    poses, _ = val_split
    with pytest.raises(ValueError, match="view_groups"):
        sample_batch(poses, body_model.keypoint_layer("coco17"), 4,
                     torch.Generator().manual_seed(0), view_groups=torch.zeros(3, dtype=torch.long))


def test_frame_runs_stay_in_their_clip_and_end_at_the_given_frames(val_split) -> None:
    _, clips = val_split
    gen = torch.Generator().manual_seed(1)
    indices = torch.randint(0, clips.shape[0], (500,), generator=gen)
    runs = frame_run_indices(indices, clips, gen, length=5, max_gap=2)
    assert runs.shape == (5, 500)
    assert torch.equal(runs[-1], indices)
    assert (clips[runs] == clips[indices][None]).all()
    steps = runs[1:] - runs[:-1]
    assert steps.abs().max() <= 2
    # One direction per run: never forwards and backwards in the same run.
    assert not ((steps > 0).any(0) & (steps < 0).any(0)).any()
    # Most runs move (the corpus clips are long enough), in both directions.
    assert (steps.sum(0) > 0).sum() > 100 and (steps.sum(0) < 0).sum() > 100
    with pytest.raises(ValueError, match="length"):
        frame_run_indices(indices, clips, gen, length=0, max_gap=2)


def test_frame_runs_are_one_view_per_run(body_model, val_split) -> None:
    poses, clips = val_split
    layer = body_model.keypoint_layer("coco17")
    frames = sample_frame_runs(poses, clips, layer, 8, torch.Generator().manual_seed(2),
                               length=3, max_gap=1)
    assert len(frames) == 3 and all(isinstance(f, SyntheticBatch) for f in frames)
    first, last = frames[0], frames[-1]
    assert torch.equal(first.intrinsics, last.intrinsics)
    assert torch.equal(first.betas, last.betas)
    assert not torch.equal(first.intrinsics[0], first.intrinsics[1])
    joined = SyntheticBatch.concatenate(frames)
    assert joined.keypoints_px.shape == (24, 17, 2)
    assert torch.equal(joined.pose[8:16], frames[1].pose)
