"""AMASS motions (``.npz``), which users download themselves (no package may ship them).

AMASS stores SMPL-H fits: ``poses [T, 156]`` (root 3, 21 body joints 63, two hands 90),
``betas [16]``, ``trans [T, 3]``, ``mocap_framerate``, ``gender``. The SMPL-X release stores
``poses [T, 165]`` (root, body, jaw, eyes, hands) or the split arrays ``root_orient``,
``pose_body``, and ``mocap_frame_rate``. SMPL and SMPL-H/X share the first 22 joints (root
and body), so the SMPL pose is those 66 numbers followed by zeros for SMPL's two hand joints
(22, 23), which SMPL-H replaces by fingers. Betas: the first 10 (SMPL-H and SMPL share the
shape space's leading components only approximately; they are kept as a hint).

AMASS's world is **z up**; loaders rotate it to the corpus world (y up) by ``C = Rx(-90 deg)``:
root orientation ``R' = C R``, translation ``t' = C t``. (Rotating an SMPL body about the world
origin moves ``transl`` by ``C j0 - j0`` too, where ``j0`` is the rest pelvis, a few cm; the
corpus does not use translations.)
"""

from __future__ import annotations

import math
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from lgd_ros.body.rotations import axis_angle_to_matrix, matrix_to_axis_angle
from lgd_ros.data.corpus import resample_indices
from lgd_ros.data.errors import MotionFileError, MotionFileNotFoundError
from lgd_ros.data.sequence import PoseSequence

__all__ = ["AMASS_LICENCE", "iter_amass_directory", "load_amass_directory", "load_amass_npz"]

AMASS_LICENCE = (
    "AMASS and its sub-datasets: user-supplied under their own (mostly non-commercial) "
    "licences; never redistribute"
)

_BODY_VALUES = 66  # root (3) + 21 body joints (63), shared by SMPL, SMPL-H and SMPL-X
_POSE_WIDTHS = {72: "SMPL", 156: "SMPL-H", 165: "SMPL-X", 66: "SMPL body only"}
_Z_UP_TO_Y_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # Rx(-90 deg)


def _is_shape_file(keys: set[str]) -> bool:
    return "betas" in keys and not ({"poses", "pose_body", "root_orient"} & keys)


def load_amass_npz(
    path: str | Path,
    *,
    clip_id: str | None = None,
    world_up: str = "z",
    fps: float | None = None,
    target_fps: float | None = None,
) -> PoseSequence:
    """Load one AMASS motion file as a SMPL-layout :class:`PoseSequence`.

    Args:
        path: an AMASS ``.npz`` (SMPL-H ``poses [T,156]``, SMPL-X ``[T,165]`` or split
            ``root_orient``/``pose_body``; plain SMPL ``[T,72]`` also accepted).
        clip_id: defaults to ``"amass/<stem>"``.
        world_up: ``"z"`` (AMASS) or ``"y"`` (already in the corpus world).
        fps: frame rate if the file has none.
        target_fps: keep only the frames nearest to this rate (memory: AMASS is ~100 fps).

    Raises:
        MotionFileNotFoundError: no such file.
        MotionFileError: not a readable ``.npz``, a shape-only file, or arrays of the wrong size.
    """
    path = Path(path)
    if not path.is_file():
        raise MotionFileNotFoundError(path, "AMASS file not found")
    if world_up not in ("y", "z"):
        raise MotionFileError(path, f"world_up must be 'y' or 'z', got {world_up!r}")
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = set(data.files)
            if _is_shape_file(keys):
                raise MotionFileError(path, "AMASS shape file (betas only, no poses)")
            if "poses" in keys:
                raw = np.asarray(data["poses"], dtype=np.float64)
                if raw.ndim != 2 or raw.shape[1] not in _POSE_WIDTHS:
                    raise MotionFileError(
                        path,
                        "'poses' must be [T, 72] (SMPL), [T, 156] (SMPL-H) or [T, 165] (SMPL-X), "
                        f"got {list(raw.shape)}",
                    )
                body = raw[:, :_BODY_VALUES]
            elif {"root_orient", "pose_body"} <= keys:
                root = np.asarray(data["root_orient"], dtype=np.float64)
                pose_body = np.asarray(data["pose_body"], dtype=np.float64)
                if root.ndim != 2 or root.shape[1] != 3 or pose_body.shape != (root.shape[0], 63):
                    raise MotionFileError(
                        path,
                        "expected root_orient [T, 3] and pose_body [T, 63], "
                        f"got {list(root.shape)} and {list(pose_body.shape)}",
                    )
                body = np.concatenate([root, pose_body], axis=1)
            else:
                raise MotionFileError(
                    path,
                    "not an AMASS motion (no 'poses' or 'root_orient'+'pose_body'; "
                    f"has {sorted(keys)})",
                )
            rate = fps
            for key in ("mocap_framerate", "mocap_frame_rate"):
                if key in keys:
                    rate = float(np.asarray(data[key]).reshape(-1)[0])
            if rate is None:
                raise MotionFileError(path, "no 'mocap_framerate' in the file; pass fps=")
            betas = None
            if "betas" in keys:
                all_betas = np.asarray(data["betas"], dtype=np.float32).reshape(-1)
                if all_betas.size < 10:
                    raise MotionFileError(
                        path, f"'betas' must have >= 10 values, got {all_betas.size}"
                    )
                betas = all_betas[:10]
            transl = None
            if "trans" in keys:
                transl = np.asarray(data["trans"], dtype=np.float64)
                if transl.shape != (body.shape[0], 3):
                    raise MotionFileError(
                        path, f"'trans' must be [{body.shape[0]}, 3], got {list(transl.shape)}"
                    )
    except MotionFileError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise MotionFileError(path, f"cannot read as an AMASS .npz ({exc})") from None
    if body.shape[0] == 0:
        raise MotionFileError(path, "motion has no frames")
    if not np.isfinite(body).all():
        raise MotionFileError(path, "poses contain NaN or infinite values")
    if not (math.isfinite(rate) and rate > 0):
        raise MotionFileError(path, f"frame rate must be > 0, got {rate}")
    if target_fps is not None:
        picked = resample_indices(body.shape[0], rate, target_fps)
        body = body[picked]
        transl = None if transl is None else transl[picked]
        rate = min(rate, target_fps)
    poses = np.zeros((body.shape[0], 72), dtype=np.float64)
    poses[:, :_BODY_VALUES] = body
    if world_up == "z":
        root_matrix = axis_angle_to_matrix(torch.from_numpy(poses[:, :3]))
        change = torch.from_numpy(_Z_UP_TO_Y_UP)
        poses[:, :3] = matrix_to_axis_angle(change @ root_matrix).numpy()
        if transl is not None:
            transl = transl @ _Z_UP_TO_Y_UP.T
    return PoseSequence(
        poses=poses.astype(np.float32),
        fps=rate,
        clip_id=clip_id if clip_id is not None else f"amass/{path.stem}",
        source="amass",
        licence=AMASS_LICENCE,
        betas=betas,
        transl=None if transl is None else transl.astype(np.float32),
        origin=str(path),
    )


def iter_amass_directory(
    directory: str | Path,
    *,
    target_fps: float | None = None,
    skip_invalid: bool = False,
) -> Iterator[PoseSequence]:
    """Yield every AMASS motion under ``directory`` (recursively, sorted by path).

    Shape files (``shape.npz``: betas only) are skipped silently. Clip ids are
    ``"amass/<path relative to directory, without .npz>"``, so sub-dataset names are kept.

    Args:
        directory: the AMASS root (or any sub-directory).
        target_fps: resample while loading (see :func:`load_amass_npz`).
        skip_invalid: warn about and skip unreadable files instead of raising.

    Raises:
        MotionFileNotFoundError: the directory does not exist.
        MotionFileError: an unreadable file (unless ``skip_invalid``), or no motions at all.
    """
    root = Path(directory)
    if not root.is_dir():
        raise MotionFileNotFoundError(root, "AMASS directory not found")
    found = 0
    for path in sorted(root.rglob("*.npz")):
        rel = path.relative_to(root).with_suffix("").as_posix()
        try:
            sequence = load_amass_npz(path, clip_id=f"amass/{rel}", target_fps=target_fps)
        except MotionFileError as exc:
            if exc.problem.startswith("AMASS shape file"):
                continue
            if skip_invalid:
                warnings.warn(f"skipping {exc}", stacklevel=2)
                continue
            raise
        found += 1
        yield sequence
    if found == 0:
        raise MotionFileError(root, "no AMASS motion files (*.npz with poses) in this directory")


def load_amass_directory(
    directory: str | Path,
    *,
    target_fps: float | None = None,
    skip_invalid: bool = False,
) -> list[PoseSequence]:
    """All AMASS motions under ``directory`` as a list (see :func:`iter_amass_directory`).

    For the full AMASS (~40 h) pass ``target_fps=30`` (about 1 GB of poses), or stream
    :func:`iter_amass_directory` into :func:`build_corpus_from_sequences`.
    """
    return list(iter_amass_directory(directory, target_fps=target_fps, skip_invalid=skip_invalid))
