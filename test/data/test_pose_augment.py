"""augment_poses: shapes, reproducibility, limb recombination, joint limits, shapes."""

from __future__ import annotations

import pytest
import torch

from lgd_ros.data import PoseInputError, augment_poses, load_pose_corpus
from lgd_ros.data.augment import JOINT_LIMITS_RAD, LIMB_GROUPS


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    corpus = load_pose_corpus()
    generator = torch.Generator().manual_seed(3)
    index = torch.randperm(corpus.num_poses, generator=generator)[:64]
    return corpus.poses[index]


def test_shapes_dtype_and_reproducibility(batch: torch.Tensor) -> None:
    first = augment_poses(batch, torch.Generator().manual_seed(7))
    again = augment_poses(batch, torch.Generator().manual_seed(7))
    other = augment_poses(batch, torch.Generator().manual_seed(8))
    assert first.poses.shape == (64, 72) and first.betas.shape == (64, 10)
    assert first.poses.dtype == batch.dtype
    assert torch.equal(first.poses, again.poses) and torch.equal(first.betas, again.betas)
    assert not torch.equal(first.poses, other.poses)
    torch.testing.assert_close(first.poses[:, :3], batch[:, :3])  # root left to the trainer
    assert (first.poses[:, 66:] == 0).all()
    assert first.betas.abs().max() <= 3.0


def test_recombination_takes_whole_limb_groups_from_the_batch(batch: torch.Tensor) -> None:
    out = augment_poses(
        batch,
        torch.Generator().manual_seed(0),
        recombine_prob=1.0,
        perturb_std_deg=0.0,
        shape_std=0.0,
    )
    assert (out.betas == 0).all()
    per_joint, source = out.poses.view(64, 24, 3), batch.view(64, 24, 3)
    changed = 0
    for sample in range(64):
        differs = [
            name
            for name, joints in LIMB_GROUPS.items()
            if not torch.equal(per_joint[sample, list(joints)], source[sample, list(joints)])
        ]
        assert len(differs) <= 1
        if differs:
            changed += 1
            joints = list(LIMB_GROUPS[differs[0]])
            # The new limb is some other sample's limb, copied whole.
            matches = (source[:, joints] == per_joint[sample, joints]).flatten(1).all(dim=1)
            assert matches.any()
    assert changed > 32


def test_perturbation_is_small_and_respects_limits(batch: torch.Tensor) -> None:
    out = augment_poses(
        batch, torch.Generator().manual_seed(1), recombine_prob=0.0, perturb_std_deg=30.0
    )
    per_joint, source = out.poses.view(64, 24, 3), batch.view(64, 24, 3)
    low, high = JOINT_LIMITS_RAD[..., 0].float(), JOINT_LIMITS_RAD[..., 1].float()
    inside = (source >= low) & (source <= high)
    # Values that were inside the limits stay inside; others are never pushed further out.
    assert ((per_joint >= low - 1e-6) & (per_joint <= high + 1e-6))[inside].all()
    assert (per_joint >= torch.minimum(low, source) - 1e-6).all()
    assert (per_joint <= torch.maximum(high, source) + 1e-6).all()
    # Knees move (mostly) about their hinge axis x.
    knee = (per_joint - source)[:, [4, 5]]
    assert knee[..., 0].abs().mean() > 3 * knee[..., 1:].abs().mean()


def test_bad_input_is_rejected() -> None:
    with pytest.raises(PoseInputError, match=r"\[B, 72\].*\(4, 69\)"):
        augment_poses(torch.zeros(4, 69), torch.Generator())
    with pytest.raises(PoseInputError, match=r"recombine_prob"):
        augment_poses(torch.zeros(4, 72), torch.Generator(), recombine_prob=2.0)
