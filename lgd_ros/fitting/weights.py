"""Reading and writing LGD weights files with the metadata that says what they fit.

A weights file is a ``torch.save`` dict of plain types (loadable with
``weights_only=True``, so a file can never run code): the network ``state_dict`` and

* ``keypoint_format``: the format the networks read;
* ``body_model_fingerprint`` / ``body_model_name``: :attr:`BodyModel.fingerprint` of the
  body model used in training -- the networks learned *that* model's joint placements
  and shape space, so another model is refused;
* ``network``: :class:`NetworkConfig` as a dict (includes the step counts);
* ``corpus_version``, ``train`` (settings, iterations, wall time) and ``metrics``
  (held-out figures) for the model card.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from lgd_ros.fitting.errors import WeightsError, WeightsMismatchError
from lgd_ros.fitting.networks import LGDNetwork, NetworkConfig

__all__ = [
    "WEIGHTS_FORMAT_VERSION",
    "WeightsMetadata",
    "default_weights_path",
    "load_weights",
    "retrain_command",
    "save_weights",
]

WEIGHTS_FORMAT_VERSION: int = 1
_KIND = "lgd_ros.fitting.LGDNetwork"


@dataclass(frozen=True)
class WeightsMetadata:
    """What a weights file was trained for (see module docstring)."""

    keypoint_format: str
    body_model_fingerprint: str
    body_model_name: str
    network: NetworkConfig
    corpus_version: str
    train: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)


def default_weights_path(fmt: str) -> Path:
    """Path of the weights shipped in the package for keypoint format ``fmt``."""
    return Path(str(resources.files("lgd_ros.fitting") / "data" / f"lgd_{fmt}.pt"))


def shipped_formats() -> list[str]:
    """Keypoint formats with weights shipped in the package."""
    folder = default_weights_path("x").parent
    return sorted(p.stem.removeprefix("lgd_") for p in folder.glob("lgd_*.pt"))


def retrain_command(fmt: str, body_model_path: str | Path | None = None,
                    out: str | Path | None = None) -> str:
    """The exact command that trains weights for ``fmt`` and a body model."""
    parts = ["python -m lgd_ros.fitting.train", f"--fmt {fmt}"]
    if body_model_path is not None:
        parts.append(f"--body-model {body_model_path}")
    parts.append(f"--out {out if out is not None else f'lgd_{fmt}.pt'}")
    return " ".join(parts)


def save_weights(path: str | Path, network: LGDNetwork, meta: WeightsMetadata) -> Path:
    """Write ``network``'s parameters and ``meta`` to ``path`` (parent dirs created)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "kind": _KIND,
        "format_version": WEIGHTS_FORMAT_VERSION,
        "keypoint_format": meta.keypoint_format,
        "body_model_fingerprint": meta.body_model_fingerprint,
        "body_model_name": meta.body_model_name,
        "network": network.config.to_dict(),
        "corpus_version": meta.corpus_version,
        "train": dict(meta.train),
        "metrics": dict(meta.metrics),
        "state_dict": {k: v.detach().cpu().clone() for k, v in network.state_dict().items()},
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


def load_weights(
    path: str | Path,
    *,
    expected_fingerprint: str | None,
    expected_format: str | None,
    body_model_path: str | Path | None = None,
    map_location: torch.device | str | None = "cpu",
) -> tuple[LGDNetwork, WeightsMetadata]:
    """Load a weights file and check it was trained for this body model and format.

    Args:
        expected_fingerprint: ``BodyModel.fingerprint`` of the model it will run with
            (None skips the check -- for inspection tools only).
        expected_format: keypoint format name the caller wants (None skips the check).
        body_model_path: only used to write the retrain command in error messages.

    Raises:
        WeightsError: missing or unreadable file, or not an LGD weights file.
        WeightsMismatchError: trained for another body model or keypoint format.
    """
    path = Path(path)
    if not path.is_file():
        fmt = expected_format or "coco17"
        raise WeightsError(
            f"LGD weights file not found: {path}. Train weights with: "
            f"{retrain_command(fmt, body_model_path, path)}"
        )
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise WeightsError(f"cannot read LGD weights file {path}: {exc}") from exc
    if not isinstance(payload, dict) or payload.get("kind") != _KIND:
        raise WeightsError(
            f"{path} is not an LGD weights file (expected a dict with kind={_KIND!r})"
        )
    if payload.get("format_version") != WEIGHTS_FORMAT_VERSION:
        raise WeightsError(
            f"{path} has weights format version {payload.get('format_version')!r}; this "
            f"lgd_ros reads version {WEIGHTS_FORMAT_VERSION}. Retrain with: "
            f"{retrain_command(payload.get('keypoint_format', 'coco17'), body_model_path, path)}"
        )
    fmt = str(payload["keypoint_format"])
    if expected_format is not None and fmt != expected_format:
        raise WeightsMismatchError(
            f"{path} was trained for keypoint format {fmt!r}, not {expected_format!r}. "
            f"Load the weights for {expected_format!r} or train them with: "
            f"{retrain_command(expected_format, body_model_path)}"
        )
    fingerprint = str(payload["body_model_fingerprint"])
    if expected_fingerprint is not None and fingerprint != expected_fingerprint:
        raise WeightsMismatchError(
            f"{path} was trained for body model {payload.get('body_model_name')!r} "
            f"(fingerprint {fingerprint[:12]}...), but the loaded body model has fingerprint "
            f"{expected_fingerprint[:12]}...; the networks only work with the body model they "
            f"were trained on. Retrain with: {retrain_command(fmt, body_model_path)}"
        )
    try:
        config = NetworkConfig(**payload["network"])
        network = LGDNetwork(config)
        network.load_state_dict(payload["state_dict"])
    except (TypeError, KeyError, RuntimeError) as exc:
        raise WeightsError(
            f"{path}: network config or parameters do not match this lgd_ros version ({exc}). "
            f"Retrain with: {retrain_command(fmt, body_model_path)}"
        ) from exc
    meta = WeightsMetadata(
        keypoint_format=fmt,
        body_model_fingerprint=fingerprint,
        body_model_name=str(payload.get("body_model_name", "")),
        network=config,
        corpus_version=str(payload.get("corpus_version", "")),
        train=dict(payload.get("train", {})),
        metrics=dict(payload.get("metrics", {})),
    )
    network.eval()
    return network, meta
