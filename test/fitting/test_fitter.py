"""The Fitter API with the shipped weights: accuracy on known parameters and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lgd_ros.fitting import FitInputError, FitOptions, FitResult, Fitter
from lgd_ros.fitting.fitter import RESULT_TENSORS, FitModule
from lgd_ros.fitting.metrics import mpjpe, pa_mpjpe
from lgd_ros.fitting.synthetic import SamplerConfig, sample_batch

# Views where the whole person is in the image (the recovery bounds below are for that).
IN_FRAME = SamplerConfig(person_height_fraction=(0.3, 0.8), pelvis_u_range=(0.35, 0.65),
                         pelvis_v_range=(0.4, 0.6))


@pytest.fixture(scope="module")
def fitter(body_model) -> Fitter:
    return Fitter.load(body_model=body_model)


@pytest.fixture(scope="module")
def views(fitter: Fitter, val_poses: torch.Tensor):
    gen = torch.Generator().manual_seed(11)
    return sample_batch(val_poses, fitter.layer, 32, gen, IN_FRAME, clean=True)


def test_shipped_weights_load_without_arguments() -> None:
    fitter = Fitter.load()
    assert fitter.fmt == "coco17"
    assert fitter.num_keypoints == 17
    assert fitter.meta.body_model_fingerprint == fitter.body_model.fingerprint


def test_recovers_known_parameters(fitter: Fitter, views) -> None:
    result = fitter.fit(views.keypoints_px, views.confidence, views.intrinsics)
    assert result.pose.shape == (32, 72) and result.betas.shape == (32, 10)
    assert result.keypoints2d.shape == (32, 17, 2) and result.residuals_px.shape == (32, 17)
    assert result.steps_used == fitter.default_steps
    assert float(result.success.float().mean()) >= 0.9
    # Bounds (mean over 32 held-out poses, clean keypoints): see docs/model_card.md for
    # the full-size figures.
    assert float(pa_mpjpe(result.joints, views.joints).mean()) < 0.080
    assert float(mpjpe(result.joints, views.joints).mean()) < 0.115
    depth_error = (result.joints[:, 0, 2] - views.pelvis[:, 2]).abs() / views.pelvis[:, 2]
    assert float(depth_error.median()) < 0.08
    box = (views.keypoints_px.amax(1) - views.keypoints_px.amin(1)).amax(-1)
    assert float((result.mean_error_px / box).median()) < 0.03


def test_transl_reproduces_joints_with_body_model(fitter: Fitter, views, body_model) -> None:
    result = fitter.fit(views.keypoints_px[:4], views.confidence[:4], views.intrinsics[:4])
    out = body_model(result.pose, result.betas, result.transl)
    torch.testing.assert_close(out.joints, result.joints, atol=1e-4, rtol=1e-4)


def test_warm_start_from_previous_fit(fitter: Fitter, views) -> None:
    kp, conf, k = views.keypoints_px[:8], views.confidence[:8], views.intrinsics[:8]
    cold = fitter.fit(kp, conf, k)
    warm = fitter.fit(kp, conf, k, init=cold)
    assert warm.steps_used == fitter.default_warm_steps
    # Starting at a good fit of the same frame must not make it worse.
    assert float(warm.mean_error_px.mean()) <= float(cold.mean_error_px.mean()) * 1.1
    assert bool(warm.success.all() | ~cold.success.all())


def test_warm_start_blends_previous_fit_and_init_network(fitter: Fitter, views) -> None:
    """Joint rotations and shape are the weights' blend of the previous fit and the init
    network's estimate; orientation and position are the init network's."""
    from dataclasses import replace

    from lgd_ros.fitting.networks import LGDNetwork
    from lgd_ros.fitting.observation import normalize_keypoints

    kp, conf, k = views.keypoints_px[:4], views.confidence[:4], views.intrinsics[:4]
    previous = fitter.fit(kp, conf, k)
    obs = normalize_keypoints(kp, conf, k, fitter.layer.available)
    w = fitter.network.config.warm_blend
    assert 0.0 < w < 1.0  # the shipped weights blend
    with torch.no_grad():
        fresh = fitter.network.initial_state(obs)
        start = fitter.network.warm_state(obs, previous.pose[:, 3:], previous.betas)
        torch.testing.assert_close(start.body_pose,
                                   w * previous.pose[:, 3:] + (1 - w) * fresh.body_pose)
        torch.testing.assert_close(start.betas, w * previous.betas + (1 - w) * fresh.betas)
        torch.testing.assert_close(start.root, fresh.root)
        torch.testing.assert_close(start.orient6d, fresh.orient6d)
        alone = LGDNetwork(replace(fitter.network.config, warm_blend=1.0))
        alone.load_state_dict(fitter.network.state_dict())
        kept = alone.warm_state(obs, previous.pose[:, 3:], previous.betas)
    assert torch.equal(kept.body_pose, previous.pose[:, 3:])


def test_fit_runs_the_plain_network(fitter: Fitter, views) -> None:
    """fit() runs a traced graph (or, eagerly, frozen TorchScript copies of the MLPs): the
    same numbers as the plain network, which stays what export and fingerprints use."""
    from lgd_ros.fitting.observation import normalize_keypoints

    kp, conf, k = views.keypoints_px[:4], views.confidence[:4], views.intrinsics[:4]
    assert isinstance(fitter._inference_network.update_net, torch.jit.ScriptModule)
    assert not isinstance(fitter.network.update_net, torch.jit.ScriptModule)
    cold = fitter.fit(kp, conf, k)
    warm = fitter.fit(kp, conf, k, init=cold)
    obs = normalize_keypoints(kp, conf, k, fitter.layer.available)
    with torch.no_grad():
        states, _ = fitter.network(obs, fitter.objective, fitter.default_steps)
        start = fitter.network.warm_state(obs, cold.pose[:, 3:], cold.betas)
        warm_states, _ = fitter.network(obs, fitter.objective, fitter.default_warm_steps,
                                        init=start)
    exact = {"atol": 1e-6, "rtol": 1e-6}
    torch.testing.assert_close(cold.pose[:, 3:], states[-1].body_pose, **exact)
    torch.testing.assert_close(cold.betas, states[-1].betas, **exact)
    torch.testing.assert_close(warm.pose[:, 3:], warm_states[-1].body_pose, **exact)


@pytest.mark.parametrize("batch", [1, 5])
def test_traced_fit_matches_the_eager_fit(body_model, views, batch: int) -> None:
    """Each start and step count runs as a graph traced on its first call; it must give
    what the same operations give eagerly on other batch sizes and on bad samples, flags
    included. A batch of 1 is traced padded to 2, then reused at 5 (and the other way)."""
    traced = Fitter.load(body_model=body_model)
    eager = Fitter.load(body_model=body_model, trace=False)
    for size in (batch, 6 - batch):
        kp = views.keypoints_px[:size].clone()
        conf = views.confidence[:size].clone()
        kp[0, :3] = float("nan")  # missing, reported as NaN with zero confidence
        conf[0, :3] = 0.0
        if size > 1:
            conf[1] = 0.0  # nothing detected: a failed fit
        k = views.intrinsics[:size]
        for steps in (None, 1):
            cold = (traced.fit(kp, conf, k, steps=steps), eager.fit(kp, conf, k, steps=steps))
            warm = tuple(f.fit(kp, conf, k, init=c, steps=steps)
                         for f, c in zip((traced, eager), cold, strict=True))
            for ours, reference in (cold, warm):
                assert torch.equal(ours.success, reference.success)
                assert ours.steps_used == reference.steps_used
                for name in RESULT_TENSORS:
                    torch.testing.assert_close(getattr(ours, name), getattr(reference, name),
                                               atol=1e-4, rtol=1e-4, equal_nan=True)
    assert len(traced._graphs) == 4  # cold and warm, default steps and 1
    assert all(isinstance(g, torch.jit.ScriptModule) for g in traced._graphs.values())
    assert not eager._graphs


def test_a_fit_that_cannot_be_traced_runs_eagerly(body_model, views, monkeypatch) -> None:
    fitter = Fitter.load(body_model=body_model)
    kp, conf, k = views.keypoints_px[:3], views.confidence[:3], views.intrinsics[:3]
    expected = Fitter.load(body_model=body_model, trace=False).fit(kp, conf, k)

    def no_tracer(*args, **kwargs):
        raise RuntimeError("no tracer here")

    monkeypatch.setattr(torch.jit, "trace", no_tracer)
    with pytest.warns(RuntimeWarning, match="could not be traced.*no tracer here"):
        result = fitter.fit(kp, conf, k)
    torch.testing.assert_close(result.pose, expected.pose)
    assert torch.equal(result.success, expected.success)
    assert all(isinstance(g, FitModule) for g in fitter._graphs.values())


def test_changed_options_are_not_baked_into_an_earlier_graph(body_model, views) -> None:
    fitter = Fitter.load(body_model=body_model)
    kp, conf, k = views.keypoints_px[:4], views.confidence[:4], views.intrinsics[:4]
    assert bool(fitter.fit(kp, conf, k).success.all())
    fitter.options = FitOptions(max_relative_error=1e-9)
    assert not bool(fitter.fit(kp, conf, k).success.any())


def test_missing_keypoints_and_numpy_inputs(fitter: Fitter, views) -> None:
    kp = views.keypoints_px[:2].clone()
    conf = views.confidence[:2].clone()
    kp[0, :5] = float("nan")  # head missing, reported as NaN with zero confidence
    conf[0, :5] = 0.0
    result = fitter.fit(kp.numpy(), conf.numpy(), views.intrinsics[0].numpy())
    assert bool(result.success[0])
    assert torch.isnan(result.residuals_px[0, :5]).all()
    assert torch.isfinite(result.residuals_px[0, 5:]).all()


def test_unusable_samples_are_flagged_not_garbage(fitter: Fitter, views) -> None:
    kp = views.keypoints_px[:3].clone()
    conf = views.confidence[:3].clone()
    conf[0] = 0.0  # nothing detected
    kp[1] = float("nan")  # all NaN
    conf[2, 3:] = 0.0  # only three keypoints
    result = fitter.fit(kp, conf, views.intrinsics[:3])
    assert result.success.tolist() == [False, False, False]
    assert torch.isfinite(result.pose).all()
    assert torch.isnan(result.mean_error_px[:2]).all()
    assert float(result.quality.max()) == 0.0


def test_bad_shapes_and_intrinsics_raise(fitter: Fitter, views) -> None:
    kp, conf, k = views.keypoints_px[:2], views.confidence[:2], views.intrinsics[0]
    with pytest.raises(FitInputError, match=r"\[B, 17, 2\]"):
        fitter.fit(kp[:, :10], conf, k)
    with pytest.raises(FitInputError, match="confidence"):
        fitter.fit(kp, conf[:, :5], k)
    bad = k.clone()
    bad[0, 0] = 0.0
    with pytest.raises(FitInputError, match="focal"):
        fitter.fit(kp, conf, bad)
    with pytest.raises(FitInputError, match="NaN"):
        fitter.fit(kp, conf, torch.full((3, 3), float("nan")))
    with pytest.raises(FitInputError, match="intrinsics"):
        fitter.fit(kp, conf, torch.eye(4))
    with pytest.raises(FitInputError, match="blazepose33"):
        fitter.fit(kp, conf, k, fmt="blazepose33")
    with pytest.raises(FitInputError, match="steps"):
        fitter.fit(kp, conf, k, steps=-1)
    with pytest.raises(FitInputError, match="numpy"):
        fitter.fit("keypoints", conf, k)  # type: ignore[arg-type]
    previous = fitter.fit(kp[:1], conf[:1], k)
    with pytest.raises(FitInputError, match="init has 1"):
        fitter.fit(kp, conf, k, init=previous)


def test_result_select_and_concatenate(fitter: Fitter, views) -> None:
    result = fitter.fit(views.keypoints_px[:3], views.confidence[:3], views.intrinsics[:3])
    one = result.select(1)
    assert len(one) == 1
    joined = FitResult.concatenate([result.select([0]), one])
    assert len(joined) == 2
    np.testing.assert_allclose(joined.pose[1].numpy(), result.pose[1].numpy())


def test_a_batch_fits_each_sample_as_if_alone(fitter: Fitter, views) -> None:
    """Batching people (the bag tool's lanes, the benchmark's sequences) must not change
    anyone's fit: no statistic may mix samples."""
    kp, conf, k = views.keypoints_px[:4].clone(), views.confidence[:4].clone(), views.intrinsics[:4]
    conf[1, :6] = 0.0  # samples of the batch differ in what they show
    cold = fitter.fit(kp, conf, k)
    warm = fitter.fit(kp, conf, k, init=cold)
    for i in range(4):
        alone = fitter.fit(kp[i:i + 1], conf[i:i + 1], k[i:i + 1])
        torch.testing.assert_close(alone.pose, cold.pose[i:i + 1], atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(alone.transl, cold.transl[i:i + 1], atol=1e-4, rtol=1e-4)
        warm_alone = fitter.fit(kp[i:i + 1], conf[i:i + 1], k[i:i + 1], init=cold.select([i]))
        torch.testing.assert_close(warm_alone.joints, warm.joints[i:i + 1], atol=1e-4, rtol=1e-4)


def test_prepare_traces_the_graphs_a_stream_uses(body_model, views) -> None:
    fitter = Fitter.load(body_model=body_model)
    fitter.prepare()
    assert set(fitter._graphs) == {(False, fitter.default_steps, fitter.options),
                                   (True, fitter.default_warm_steps, fitter.options)}
    kp, conf, k = views.keypoints_px[:2], views.confidence[:2], views.intrinsics[:2]
    fitter.fit(kp, conf, k, init=fitter.fit(kp, conf, k))
    assert len(fitter._graphs) == 2  # nothing traced on the stream's first frames
    fitter.prepare(steps=3, warm_steps=1)
    assert (False, 3, fitter.options) in fitter._graphs
    assert (True, 1, fitter.options) in fitter._graphs
