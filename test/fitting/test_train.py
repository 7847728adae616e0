"""The trainer end to end on CPU with a tiny config, checkpoint and resume."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from lgd_ros.fitting import Fitter, TrainingError
from lgd_ros.fitting.train import (
    TrainConfig,
    TrainData,
    build_parser,
    config_from_args,
    load_training_data,
    main,
    train,
)

TINY = TrainConfig(fmt="coco17", iterations=2, batch_size=8, width=16, init_width=16,
                   num_blocks=1, steps=2, warm_steps=1, checkpoint_every=1, val_every=0,
                   val_size=8)


def _data(train_poses: torch.Tensor, val_poses: torch.Tensor) -> TrainData:
    return TrainData(train_poses=train_poses[:64], val_poses=val_poses[:16],
                     corpus_version="test-subset")


def test_tiny_training_writes_loadable_weights(tmp_path: Path, body_model, train_poses,
                                               val_poses) -> None:
    out = train(TINY, _data(train_poses, val_poses), body_model, tmp_path / "w.pt",
                progress=False)
    fitter = Fitter.load(out, body_model)
    assert fitter.meta.train["iterations"] == 2
    assert fitter.meta.corpus_version == "test-subset"
    assert set(fitter.meta.metrics["val_cold"]) >= {"mpjpe_mm", "pa_mpjpe_mm"}
    assert fitter.default_steps == 2
    assert (tmp_path / "w.pt.ckpt").is_file()


def test_resume_continues_from_checkpoint(tmp_path: Path, body_model, train_poses,
                                          val_poses) -> None:
    data = _data(train_poses, val_poses)
    out = tmp_path / "w.pt"
    train(TINY, data, body_model, out, progress=False)
    first = torch.load(out.with_name("w.pt.ckpt"), weights_only=False)
    assert first["iteration"] == 2
    longer = replace(TINY, iterations=3)
    train(longer, data, body_model, out, resume=True, progress=False)
    resumed = torch.load(out.with_name("w.pt.ckpt"), weights_only=False)
    assert resumed["iteration"] == 3
    # Training went on from the checkpointed parameters (they changed by one step only).
    changed = [not torch.equal(first["network"][k], resumed["network"][k])
               for k in first["network"]]
    assert any(changed)


def test_resume_with_other_network_is_refused(tmp_path: Path, body_model, train_poses,
                                              val_poses) -> None:
    data = _data(train_poses, val_poses)
    out = tmp_path / "w.pt"
    train(TINY, data, body_model, out, progress=False)
    with pytest.raises(TrainingError, match="checkpoint"):
        train(replace(TINY, width=24), data, body_model, out, resume=True, progress=False)


def test_weight_average_is_what_is_saved(tmp_path: Path, body_model, train_poses, val_poses) -> None:
    """With ``ema_decay`` the saved weights are the running average: between the start and
    the last iterate, not the last iterate itself; it resumes from the checkpoint too."""
    data = _data(train_poses, val_poses)
    plain = train(replace(TINY, iterations=3), data, body_model, tmp_path / "plain.pt", progress=False)
    averaged = train(replace(TINY, iterations=3, ema_decay=0.5), data, body_model, tmp_path / "ema.pt",
                     progress=False)
    last = torch.load(tmp_path / "ema.pt.ckpt", weights_only=False)
    saved = Fitter.load(averaged, body_model).network.state_dict()
    assert Fitter.load(plain, body_model).network.state_dict().keys() == saved.keys()
    # Same seed and data: the last iterates match; the saved average differs from them.
    assert all(torch.equal(last["network"][k], torch.load(tmp_path / "plain.pt.ckpt", weights_only=False)
                           ["network"][k]) for k in saved)
    assert any(not torch.allclose(saved[k], last["network"][k]) for k in saved)
    assert last["average"] is not None
    train(replace(TINY, iterations=4, ema_decay=0.5), data, body_model, tmp_path / "ema.pt", resume=True,
          progress=False)
    assert torch.load(tmp_path / "ema.pt.ckpt", weights_only=False)["iteration"] == 4
    with pytest.raises(TrainingError, match="warm_blend"):
        train(replace(TINY, warm_blend=1.5), data, body_model, tmp_path / "bad.pt", progress=False)
    with pytest.raises(TrainingError, match="ema_decay"):
        train(replace(TINY, ema_decay=1.0), data, body_model, tmp_path / "bad.pt", progress=False)
    for bad in (dict(recombine_probability=1.5), dict(perturb_std_deg=float("nan"))):
        with pytest.raises(TrainingError, match=next(iter(bad))):
            train(replace(TINY, sampler=replace(TINY.sampler, **bad)), data, body_model,
                  tmp_path / "bad.pt", progress=False)


def test_cli_reports_errors_without_traceback(tmp_path: Path, capsys) -> None:
    code = main(["--fmt", "no_such_format", "--out", str(tmp_path / "w.pt"), "--no-progress"])
    assert code == 2
    assert "error:" in capsys.readouterr().err


def test_cli_sampler_options_reach_the_config() -> None:
    args = build_parser().parse_args(["--recombine-probability", "0.6", "--perturb-std-deg", "9",
                                      "--max-noise-px", "4"])
    sampler = config_from_args(args).sampler
    assert (sampler.recombine_probability, sampler.perturb_std_deg) == (0.6, 9.0)
    assert sampler.noise_px == (0.0, 4.0)
    defaults = config_from_args(build_parser().parse_args([])).sampler
    assert defaults.recombine_probability == TrainConfig().sampler.recombine_probability


def test_init_from_other_weights(tmp_path: Path, body_model, train_poses, val_poses) -> None:
    data = _data(train_poses, val_poses)
    first = train(TINY, data, body_model, tmp_path / "a.pt", progress=False)
    second = train(replace(TINY, iterations=1), data, body_model, tmp_path / "b.pt",
                   progress=False, init_from=first)
    fitter = Fitter.load(second, body_model)
    assert fitter.meta.train["init_from"] == str(first)
    with pytest.raises(TrainingError, match="init-from"):
        train(replace(TINY, width=24), data, body_model, tmp_path / "c.pt", progress=False,
              init_from=first)
    # More blocks are allowed (the network grows); fewer are not.
    grown = train(replace(TINY, iterations=1, num_blocks=2), data, body_model,
                  tmp_path / "d.pt", progress=False, init_from=first)
    assert Fitter.load(grown, body_model).network.config.num_blocks == 2
    with pytest.raises(TrainingError, match="blocks"):
        train(replace(TINY, num_blocks=1), data, body_model, tmp_path / "e.pt",
              progress=False, init_from=grown)


def test_amass_clips_join_training_and_validation_by_clip(tmp_path) -> None:
    """--amass: AMASS clips go through the corpus builder and are split by clip."""
    import numpy as np

    rng = np.random.default_rng(0)
    folder = tmp_path / "amass" / "CMU" / "01"
    folder.mkdir(parents=True)
    for clip in range(6):
        frames = 40
        np.savez(folder / f"01_{clip:02d}_poses.npz",
                 poses=rng.normal(0.0, 0.3, size=(frames, 156)).astype(np.float64),
                 trans=np.zeros((frames, 3)), betas=np.zeros(16), gender="neutral",
                 mocap_framerate=np.array(60.0))
    base = load_training_data()
    mixed = load_training_data(amass=str(tmp_path / "amass"))
    added_train = mixed.train_poses.shape[0] - base.train_poses.shape[0]
    added_val = mixed.val_poses.shape[0] - base.val_poses.shape[0]
    assert added_train > 0 and added_train + added_val > 0
    assert "amass" in mixed.corpus_version
    # Clip numbers travel with the poses, and AMASS clips never share an open clip's number.
    assert mixed.train_clips.shape == (mixed.train_poses.shape[0],)
    assert mixed.val_clips.shape == (mixed.val_poses.shape[0],)
    base_clips = set(base.train_clips.tolist()) | set(base.val_clips.tolist())
    amass_clips = set(mixed.train_clips[base.train_poses.shape[0]:].tolist())
    assert amass_clips and not amass_clips & base_clips
    # ... and they are one more source for --source-balance.
    assert mixed.train_sources.shape == (mixed.train_poses.shape[0],)
    amass_sources = mixed.train_sources[base.train_poses.shape[0]:].unique().tolist()
    assert [mixed.source_names[i] for i in amass_sources] == ["amass"]


def _clip_data() -> TrainData:
    """Two short train clips and one val clip of the corpus, with their clip numbers."""
    data = load_training_data()
    train_mask = (data.train_clips == data.train_clips[0]) | (data.train_clips
                                                               == data.train_clips[-1])
    val_mask = data.val_clips == data.val_clips[0]
    return TrainData(train_poses=data.train_poses[train_mask][:64],
                     train_clips=data.train_clips[train_mask][:64],
                     val_poses=data.val_poses[val_mask][:16], val_clips=data.val_clips[val_mask][:16],
                     corpus_version="test-clips")


def test_tracked_warm_starts_are_trained_and_validated(tmp_path: Path, body_model) -> None:
    """With clip numbers, part of each batch starts from the network's own track and the
    weights file reports the tracked figures; without, there is no tracked figure."""
    config = replace(TINY, warm_fraction=0.5, tracked_fraction=1.0, tracked_history=2,
                     val_every=1)
    data = _clip_data()
    out = train(config, data, body_model, tmp_path / "w.pt", progress=False)
    meta = Fitter.load(out, body_model).meta
    assert meta.metrics["val_tracked"]["pa_mpjpe_mm"] > 0
    assert all("tracked_pa_mpjpe_mm" in row for row in meta.metrics["history"])
    assert meta.train["settings"]["tracked_history"] == 2
    without_clips = TrainData(train_poses=data.train_poses, val_poses=data.val_poses,
                              corpus_version="no-clips")
    plain = train(config, without_clips, body_model, tmp_path / "p.pt", progress=False)
    assert "val_tracked" not in Fitter.load(plain, body_model).meta.metrics


def _untrained_coco17(config: TrainConfig, body_model):
    """A freshly initialised (seed 0) coco17 network of ``config`` and its objective."""
    from lgd_ros.fitting.networks import LGDNetwork
    from lgd_ros.fitting.objective import ReprojectionObjective
    from lgd_ros.fitting.train import _network_config

    torch.manual_seed(0)
    network = LGDNetwork(_network_config(config, 17, 10))
    return network, ReprojectionObjective(body_model, "coco17")


def test_training_starts_follow_the_fractions(body_model) -> None:
    """Layout of a batch: cold and perturbed starts first, then the tracked ones, whose
    start is the Fitter's warm start from the network's own fit of the previous frame."""
    from lgd_ros.fitting.train import _training_starts

    data = _clip_data()
    config = replace(TINY, batch_size=20, warm_fraction=0.5, tracked_fraction=0.6,
                     tracked_history=1)
    network, objective = _untrained_coco17(config, body_model)
    layer = objective.layer
    gen = torch.Generator().manual_seed(4)
    batch, obs, start, warm = _training_starts(network, objective, config, data.train_poses,
                                               data.train_clips, layer, layer.available, gen)
    assert batch.pose.shape[0] == obs.rays.shape[0] == start.body_pose.shape[0] == 20
    assert warm[-6:].all()  # round(20 * 0.5 * 0.6) tracked samples at the end
    # Tracked starts take orientation and position from the init network, like the Fitter.
    fresh = network.initial_state(obs)
    assert torch.allclose(start.root[-6:], fresh.root[-6:])
    assert torch.allclose(start.orient6d[-6:], fresh.orient6d[-6:])
    # ... and the joint rotations from the previous frame's fit, not from the truth.
    truth = batch.pose[-6:, 3:]
    assert not torch.allclose(start.body_pose[-6:], truth, atol=1e-3)
    # Cold rows start from the init network.
    cold = ~warm
    assert torch.allclose(start.body_pose[cold], fresh.body_pose[cold])


def test_tracked_start_replays_the_fitter(body_model, val_poses) -> None:
    """The chain of fits behind a tracked start is what Fitter.fit gives frame by frame."""
    from lgd_ros.fitting.observation import normalize_keypoints
    from lgd_ros.fitting.synthetic import sample_frame_runs
    from lgd_ros.fitting.train import tracked_start

    fitter = Fitter.load(body_model=body_model)
    data = load_training_data()
    layer = fitter.objective.layer
    *earlier, current = sample_frame_runs(data.val_poses, data.val_clips, layer, 4,
                                          torch.Generator().manual_seed(5), length=3)
    available = layer.available
    obs = normalize_keypoints(current.keypoints_px, current.confidence, current.intrinsics,
                              available)
    start = tracked_start(fitter.network, fitter.objective, earlier, obs, available,
                          warm_steps=2)
    fit = fitter.fit(earlier[0].keypoints_px, earlier[0].confidence, earlier[0].intrinsics)
    fit = fitter.fit(earlier[1].keypoints_px, earlier[1].confidence, earlier[1].intrinsics,
                     init=fit, steps=2)
    with torch.no_grad():
        expected = fitter.network.warm_state(obs, fit.pose[:, 3:], fit.betas)
    assert torch.allclose(start.body_pose, expected.body_pose, atol=1e-5)
    assert torch.allclose(start.betas, expected.betas, atol=1e-5)


def test_init_from_ignores_step_counts(tmp_path: Path, body_model, train_poses,
                                       val_poses) -> None:
    """Step counts are defaults, not parameters: fine-tuning may change them."""
    data = _data(train_poses, val_poses)
    first = train(TINY, data, body_model, tmp_path / "a.pt", progress=False)
    second = train(replace(TINY, iterations=1, warm_steps=2), data, body_model,
                   tmp_path / "b.pt", progress=False, init_from=first)
    assert Fitter.load(second, body_model).default_warm_steps == 2


def test_source_balance_weights() -> None:
    """Balance 1 gives every source the same share, 0 keeps the uniform draw."""
    from lgd_ros.fitting.train import pose_draw_weights, source_shares

    sources = torch.tensor([0] * 90 + [1] * 10)
    assert pose_draw_weights(sources, 0.0) is None
    flat = pose_draw_weights(sources, 1.0)
    assert source_shares(sources, flat, ("big", "small")) == {"big": 0.5, "small": 0.5}
    half = source_shares(sources, pose_draw_weights(sources, 0.5), ("big", "small"))
    assert half["big"] == pytest.approx(0.75)  # sqrt(90) : sqrt(10) = 3 : 1
    assert source_shares(sources, None, ("big", "small")) == {"big": 0.9, "small": 0.1}
    with pytest.raises(TrainingError, match="in \\[0, 1\\]"):
        pose_draw_weights(sources, 1.5)
    with pytest.raises(TrainingError, match="train_sources"):
        pose_draw_weights(None, 0.5)


def test_training_data_names_the_source_of_every_pose() -> None:
    data = load_training_data()
    assert data.train_sources is not None
    assert data.train_sources.shape == (data.train_poses.shape[0],)
    assert {"deepmimic", "cmu", "cmu_dm_control"} <= set(data.source_names)
    # Poses of one clip share a source.
    for clip in data.train_clips.unique()[:5]:
        assert data.train_sources[data.train_clips == clip].unique().numel() == 1


def test_training_starts_draw_only_weighted_poses(body_model) -> None:
    """Cold, perturbed and tracked samples all come from poses with draw weight > 0:
    the excluded clip's poses are NaN, and no NaN reaches the batch."""
    from lgd_ros.fitting.train import _training_starts

    full = load_training_data()
    clips, counts = full.train_clips.unique(return_counts=True)
    short = clips[counts < 100][:2]  # two short clips, one to exclude
    keep = (full.train_clips == short[0]) | (full.train_clips == short[1])
    clip_index = full.train_clips[keep]
    excluded = clip_index == short[1]
    poses = full.train_poses[keep].clone()
    poses[excluded] = float("nan")
    config = replace(TINY, batch_size=24, warm_fraction=0.5, tracked_fraction=0.6,
                     tracked_history=2)
    network, objective = _untrained_coco17(config, body_model)
    layer = objective.layer
    weights = (~excluded).to(torch.float64)
    batch, *_ = _training_starts(network, objective, config, poses, clip_index, layer,
                                 layer.available, torch.Generator().manual_seed(3), weights)
    assert torch.isfinite(batch.pose).all()
    # The uniform draw does reach the excluded clip (so the check above can fail).
    batch, *_ = _training_starts(network, objective, config, poses, clip_index, layer,
                                 layer.available, torch.Generator().manual_seed(3))
    assert not torch.isfinite(batch.pose).all()


def test_balanced_training_records_source_shares(tmp_path: Path, body_model) -> None:
    data = load_training_data()
    small = TrainData(train_poses=data.train_poses, val_poses=data.val_poses[:16],
                      corpus_version="test-sources", train_clips=data.train_clips,
                      train_sources=data.train_sources, source_names=data.source_names)
    out = train(replace(TINY, iterations=1, source_balance=1.0), small, body_model,
                tmp_path / "w.pt", progress=False)
    meta = Fitter.load(out, body_model).meta
    shares = meta.train["source_shares"]
    assert set(shares) == set(data.source_names)
    assert all(v == pytest.approx(1 / len(shares), abs=1e-3) for v in shares.values())
    assert meta.train["settings"]["source_balance"] == 1.0
    with pytest.raises(TrainingError, match="train_sources"):
        train(replace(TINY, source_balance=0.5), _data(data.train_poses, data.val_poses),
              body_model, tmp_path / "x.pt", progress=False)
