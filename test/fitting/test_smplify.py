"""The SMPLify-style baseline fits the keypoints it is given."""

from __future__ import annotations

import torch

from lgd_ros.fitting.observation import normalize_keypoints
from lgd_ros.fitting.pose_prior import PosePrior
from lgd_ros.fitting.smplify import SmplifyConfig, SmplifyFitter
from lgd_ros.fitting.synthetic import SamplerConfig, sample_batch


def test_baseline_reduces_reprojection_error(body_model, val_poses) -> None:
    config = SmplifyConfig(stage_iterations=(20, 30), pose_prior_weights=(0.0, 1e-4),
                           shape_weights=(0.0, 1e-4), bend_weights=(0.0, 1e-4))
    baseline = SmplifyFitter(body_model, "coco17", config=config)
    sampler = SamplerConfig(pelvis_u_range=(0.4, 0.6), person_height_fraction=(0.4, 0.8))
    batch = sample_batch(val_poses, baseline.layer, 4, torch.Generator().manual_seed(5),
                         sampler, clean=True)
    short = SmplifyFitter(body_model, "coco17", config=SmplifyConfig(stage_iterations=(1,)))
    start = short.fit(batch.keypoints_px, batch.confidence, batch.intrinsics)
    result = baseline.fit(batch.keypoints_px, batch.confidence, batch.intrinsics)
    assert float(result.mean_error_px.mean()) < 0.5 * float(start.mean_error_px.mean())
    assert result.steps_used == 50


def test_shipped_pose_prior_prefers_corpus_poses(train_poses) -> None:
    prior = PosePrior.load()
    natural = prior.energy(train_poses[:64, 3:])
    noise = prior.energy(torch.randn(64, 69) * 0.8)
    assert float(natural.median()) < float(noise.median())


def test_both_facings_keep_the_lower_energy_fit(body_model, val_poses) -> None:
    """SMPLify's two starts: each view keeps whichever facing ends at the lower energy."""
    config = SmplifyConfig(stage_iterations=(15, 15))
    baseline = SmplifyFitter(body_model, "coco17", config=config)
    batch = sample_batch(val_poses, baseline.layer, 16, torch.Generator().manual_seed(8),
                         clean=True)
    obs = normalize_keypoints(batch.keypoints_px, batch.confidence, batch.intrinsics,
                              baseline.layer.available)
    start = baseline.initial_state(obs)
    turned = baseline.initial_state(obs, turned=True)
    # The turned start faces the other way: its orientation differs by 180 degrees.
    assert not torch.allclose(start.orient6d, turned.orient6d)
    torch.testing.assert_close(start.root, turned.root)
    front, front_energy, _ = baseline.optimise(start, obs)
    back, back_energy, _ = baseline.optimise(turned, obs)
    took_back = back_energy < front_energy
    assert bool(took_back.any()) and bool((~took_back).any())  # both cases occur here
    result = baseline.fit(batch.keypoints_px, batch.confidence, batch.intrinsics)
    expected = torch.where(took_back[:, None], back.betas, front.betas)
    torch.testing.assert_close(result.betas, expected, atol=1e-4, rtol=1e-4)
    single = SmplifyFitter(body_model, "coco17",
                           config=SmplifyConfig(stage_iterations=(15, 15), both_facings=False))
    torch.testing.assert_close(
        single.fit(batch.keypoints_px, batch.confidence, batch.intrinsics).betas, front.betas,
        atol=1e-4, rtol=1e-4)
