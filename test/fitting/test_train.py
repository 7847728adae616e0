"""The trainer end to end on CPU with a tiny config, checkpoint and resume."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from lgd_ros.fitting import Fitter, TrainingError
from lgd_ros.fitting.train import TrainConfig, TrainData, main, train

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
    with pytest.raises(TrainingError, match="ema_decay"):
        train(replace(TINY, ema_decay=1.0), data, body_model, tmp_path / "bad.pt", progress=False)


def test_cli_reports_errors_without_traceback(tmp_path: Path, capsys) -> None:
    code = main(["--fmt", "no_such_format", "--out", str(tmp_path / "w.pt"), "--no-progress"])
    assert code == 2
    assert "error:" in capsys.readouterr().err


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


def test_amass_clips_join_training_and_validation_by_clip(tmp_path) -> None:
    """--amass: AMASS clips go through the corpus builder and are split by clip."""
    import numpy as np

    from lgd_ros.fitting.train import load_training_data

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
