"""Weights files: metadata round trip and refusal of mismatching weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lgd_ros.fitting import Fitter, WeightsError, WeightsMismatchError
from lgd_ros.fitting.networks import LGDNetwork, NetworkConfig
from lgd_ros.fitting.weights import (
    WeightsMetadata,
    default_weights_path,
    load_weights,
    save_weights,
)


def _write(path: Path, fingerprint: str, fmt: str = "coco17", num_keypoints: int = 17) -> None:
    network = LGDNetwork(NetworkConfig(num_keypoints=num_keypoints, width=32, init_width=32,
                                       num_blocks=1))
    meta = WeightsMetadata(keypoint_format=fmt, body_model_fingerprint=fingerprint,
                           body_model_name="test", network=network.config,
                           corpus_version="test", train={"iterations": 1},
                           metrics={"val_cold": {"pa_mpjpe_mm": 1.0}})
    save_weights(path, network, meta)


def test_round_trip_keeps_metadata(tmp_path: Path, body_model) -> None:
    path = tmp_path / "w.pt"
    _write(path, body_model.fingerprint)
    network, meta = load_weights(path, expected_fingerprint=body_model.fingerprint,
                                 expected_format="coco17")
    assert meta.keypoint_format == "coco17"
    assert meta.network.width == 32
    assert meta.train == {"iterations": 1}
    assert not network.training
    # Loadable without unpickling code.
    assert isinstance(torch.load(path, weights_only=True), dict)


def test_other_body_model_is_refused_with_retrain_command(tmp_path: Path, body_model) -> None:
    path = tmp_path / "w.pt"
    _write(path, "0" * 64)
    with pytest.raises(WeightsMismatchError) as info:
        Fitter.load(path, body_model)
    message = str(info.value)
    assert "fingerprint" in message
    assert "python -m lgd_ros.fitting.train --fmt coco17" in message


def test_other_format_is_refused(tmp_path: Path, body_model) -> None:
    path = tmp_path / "w.pt"
    _write(path, body_model.fingerprint, fmt="blazepose33", num_keypoints=33)
    with pytest.raises(WeightsMismatchError, match="blazepose33.*--fmt coco17"):
        Fitter.load(path, body_model, fmt="coco17")


def test_missing_and_foreign_files(tmp_path: Path, body_model) -> None:
    with pytest.raises(WeightsError, match="not found.*python -m lgd_ros.fitting.train"):
        Fitter.load(tmp_path / "none.pt", body_model)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {}}, foreign)
    with pytest.raises(WeightsError, match="not an LGD weights file"):
        Fitter.load(foreign, body_model)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a zip file")
    with pytest.raises(WeightsError, match="cannot read"):
        Fitter.load(garbage, body_model)


def test_shipped_weights_exist_for_default_format() -> None:
    assert default_weights_path("coco17").is_file()


def test_format_without_shipped_weights_names_the_command(body_model, tmp_path, monkeypatch) -> None:
    # Every format has shipped weights now: point the package's data folder elsewhere.
    import lgd_ros.fitting.fitter as fitter_module

    monkeypatch.setattr(fitter_module, "default_weights_path", lambda fmt: tmp_path / f"lgd_{fmt}.pt")
    with pytest.raises(WeightsError, match="--fmt body25"):
        Fitter.load(body_model=body_model, fmt="body25")


def test_files_from_before_the_warm_blend_keep_their_warm_start(tmp_path: Path,
                                                                 body_model) -> None:
    """A weights file without ``warm_blend`` was trained to start from the previous fit
    alone, so it loads with 1.0."""
    path = tmp_path / "w.pt"
    _write(path, body_model.fingerprint)
    payload = torch.load(path, weights_only=True)
    del payload["network"]["warm_blend"]
    torch.save(payload, path)
    network, meta = load_weights(path, expected_fingerprint=body_model.fingerprint,
                                 expected_format="coco17")
    assert meta.network.warm_blend == 1.0 and network.config.warm_blend == 1.0
