"""The pose corpus: SMPL poses from MoCap that the fitter learns the space of plausible poses from.

A corpus is a flat array of poses ``[N, 72]`` with, per pose, the clip it came from; each clip
carries its source, licence, origin and its split. The split is made **by clip** (every frame
of a clip, and of its mirrored copy, is on the same side), so validation measures how well
poses of unseen motions are covered, not how well neighbouring frames are.

Building (:func:`build_corpus_from_sequences`) from :class:`PoseSequence` clips:

1. resample each clip to ``target_fps`` by taking the nearest frames (no interpolation, so
   every corpus pose is a captured pose);
2. remove the heading: the root's rotation about the world's vertical is taken out
   (swing-twist split), so every pose faces +z; tilt (lying, crawling, flips) is kept;
3. drop near-duplicate frames: a frame is kept only if some joint turned by at least
   ``min_joint_change_deg`` since the last kept frame of its clip;
4. add a left-right mirrored copy of each clip (same split);
5. split clips into train/val per source, by a hash of the clip id (stable, seed free).

Files are written by :func:`save_pose_corpus` as ``.npz`` with fixed zip timestamps, so the
same inputs give the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt
import torch

from lgd_ros.body.rotations import (
    axis_angle_to_matrix,
    matrix_to_axis_angle,
    matrix_to_quaternion,
    quaternion_to_matrix,
)
from lgd_ros.body.skeleton import NUM_JOINTS, POSE_DIM, mirror_pose
from lgd_ros.data.errors import CorpusError, PoseInputError
from lgd_ros.data.sequence import PoseSequence

__all__ = [
    "CORPUS_VERSION",
    "DEFAULT_CORPUS_PATH",
    "ClipInfo",
    "PoseCorpus",
    "build_corpus_from_sequences",
    "dedup_frames",
    "load_pose_corpus",
    "merge_corpora",
    "remove_heading",
    "resample_indices",
    "save_pose_corpus",
    "split_clips",
]

CORPUS_VERSION = "pose_corpus_v3"
DEFAULT_CORPUS_PATH = Path(__file__).resolve().parent / "data" / "pose_corpus_v3.npz"
MIRROR_SUFFIX = "~mirror"
SPLITS = ("train", "val")

# Joints compared for near-duplicates: root + body joints; SMPL's hand joints are always zero.
_DEDUP_JOINTS = 22


@dataclass(frozen=True)
class ClipInfo:
    """Metadata of one corpus clip.

    Attributes:
        clip_id: unique id (mirrored copies end in ``~mirror``).
        source: ``"cmu"``, ``"deepmimic"``, ``"amass"``, ...
        licence: licence of the motion data.
        split: ``"train"`` or ``"val"``.
        fps: frame rate the clip was resampled to before de-duplication.
        num_frames: poses of this clip in the corpus.
        mirrored: True for the left-right mirrored copy of a clip.
        origin: provenance text (package, file).
    """

    clip_id: str
    source: str
    licence: str
    split: str
    fps: float
    num_frames: int
    mirrored: bool
    origin: str


@dataclass(frozen=True)
class PoseCorpus:
    """A set of SMPL poses with per-pose clip membership and per-clip metadata.

    Attributes:
        poses: ``[N, 72]`` float32 axis-angle poses, y-up world, heading removed (facing +z).
        clip_index: ``[N]`` int64 index into ``clips`` for every pose.
        frame_index: ``[N]`` int64 frame of the source clip each pose was taken from.
        clips: per-clip metadata.
        version: corpus format/content version (``"pose_corpus_v3"``).
        provenance: build record (inputs, their hashes and licences, parameters).
    """

    poses: torch.Tensor
    clip_index: torch.Tensor
    frame_index: torch.Tensor
    clips: tuple[ClipInfo, ...]
    version: str = CORPUS_VERSION
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.poses.ndim != 2 or self.poses.shape[1] != POSE_DIM:
            raise PoseInputError(
                f"corpus poses must be [N, {POSE_DIM}], got {tuple(self.poses.shape)}"
            )
        n = self.poses.shape[0]
        if self.clip_index.shape != (n,) or self.frame_index.shape != (n,):
            raise PoseInputError(
                f"clip_index and frame_index must be [{n}], got {tuple(self.clip_index.shape)} "
                f"and {tuple(self.frame_index.shape)}"
            )
        if n and (int(self.clip_index.min()) < 0 or int(self.clip_index.max()) >= len(self.clips)):
            raise PoseInputError(f"clip_index out of range for {len(self.clips)} clips")
        for clip in self.clips:
            if clip.split not in SPLITS:
                raise PoseInputError(
                    f"clip {clip.clip_id!r}: split must be train or val, got {clip.split!r}"
                )

    @property
    def split(self) -> tuple[str, ...]:
        """``'train'`` / ``'val'`` for every clip (same order as ``clips``)."""
        return tuple(clip.split for clip in self.clips)

    @property
    def num_poses(self) -> int:
        """N."""
        return int(self.poses.shape[0])

    def split_mask(self, split: str) -> torch.Tensor:
        """``[N]`` bool: poses whose clip is in ``split``."""
        if split not in SPLITS:
            raise PoseInputError(f"split must be one of {SPLITS}, got {split!r}")
        in_split = torch.tensor([clip.split == split for clip in self.clips], dtype=torch.bool)
        return in_split[self.clip_index]

    def train_poses(self) -> torch.Tensor:
        """``[N_train, 72]`` float32 poses of the training clips."""
        return self.poses[self.split_mask("train")]

    def val_poses(self) -> torch.Tensor:
        """``[N_val, 72]`` float32 poses of the validation clips."""
        return self.poses[self.split_mask("val")]

    def counts(self) -> dict[str, Any]:
        """Clips and poses per source and split (what the docs report)."""
        result: dict[str, Any] = {"clips": len(self.clips), "poses": self.num_poses, "sources": {}}
        per_clip = torch.bincount(self.clip_index, minlength=len(self.clips)).tolist()
        for clip, frames in zip(self.clips, per_clip, strict=True):
            entry = result["sources"].setdefault(
                clip.source, {"clips": 0, "poses": 0, "train_poses": 0, "val_poses": 0}
            )
            entry["clips"] += 1
            entry["poses"] += frames
            entry[f"{clip.split}_poses"] += frames
        result["train_poses"] = int(self.split_mask("train").sum())
        result["val_poses"] = int(self.split_mask("val").sum())
        return result


# ----------------------------------------------------------------------------- building


def resample_indices(
    num_frames: int, source_fps: float, target_fps: float
) -> npt.NDArray[np.int64]:
    """Indices of the frames nearest to a ``target_fps`` grid (all frames if the clip is slower).

    Returns:
        ``[T']`` increasing frame indices into the clip.
    """
    if target_fps <= 0 or source_fps <= 0:
        raise PoseInputError(f"frame rates must be > 0, got {source_fps} and {target_fps}")
    if source_fps <= target_fps:
        return np.arange(num_frames, dtype=np.int64)
    duration = (num_frames - 1) / source_fps
    steps = math.floor(duration * target_fps + 1e-9) + 1
    times = np.arange(steps, dtype=np.float64) / target_fps
    indices = np.rint(times * source_fps).astype(np.int64)
    return np.unique(np.clip(indices, 0, num_frames - 1))


def remove_heading(poses: torch.Tensor) -> torch.Tensor:
    """Remove each pose's rotation about the world vertical (y): the body then faces +z.

    Swing-twist split of the root quaternion ``q = (w, x, y, z)`` about y: the twist is
    ``t = normalize(w, 0, y, 0)`` and ``q = t * s`` with a swing ``s`` free of y-rotation;
    the result's root is ``s = t^-1 * q``. Lying and flipping poses keep their tilt.

    Args:
        poses: ``[N, 72]``.

    Returns:
        ``[N, 72]`` (same dtype) with a new root orientation; body joints unchanged.
    """
    work = poses.to(torch.float64)
    root = axis_angle_to_matrix(work[:, :3])
    q = matrix_to_quaternion(root)
    twist = torch.stack(
        [q[:, 0], torch.zeros_like(q[:, 0]), q[:, 2], torch.zeros_like(q[:, 0])], -1
    )
    norm = twist.norm(dim=-1, keepdim=True)
    # A swing of exactly pi (w = y = 0) has no defined heading: leave the pose as it is.
    identity = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=work.dtype)
    twist = torch.where(norm > 1e-8, twist / norm.clamp_min(1e-12), identity)
    swing = quaternion_to_matrix(twist).transpose(-1, -2) @ root
    out = work.clone()
    out[:, :3] = matrix_to_axis_angle(swing)
    return out.to(poses.dtype)


def dedup_frames(poses: torch.Tensor, min_joint_change_deg: float) -> npt.NDArray[np.int64]:
    """Greedy near-duplicate removal within one clip.

    Frame ``t`` is kept when, for some joint ``j`` (root and body joints), the relative rotation
    ``R_kept,j^T R_t,j`` since the last kept frame has an angle of at least the threshold.
    The first frame is always kept.

    Args:
        poses: ``[T, 72]``.
        min_joint_change_deg: threshold in degrees (0 keeps every frame).

    Returns:
        ``[T']`` indices of the kept frames.
    """
    if poses.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    if min_joint_change_deg <= 0:
        return np.arange(poses.shape[0], dtype=np.int64)
    joints = poses.to(torch.float64).reshape(-1, NUM_JOINTS, 3)[:, :_DEDUP_JOINTS]
    matrices = axis_angle_to_matrix(joints).numpy()  # [T, 22, 3, 3]
    # angle(R_a^T R_b) >= theta  <=>  trace(R_a^T R_b) <= 1 + 2 cos(theta)
    trace_limit = 1.0 + 2.0 * math.cos(math.radians(min_joint_change_deg))
    kept = [0]
    last = matrices[0]
    for t in range(1, matrices.shape[0]):
        traces = np.einsum("jab,jab->j", last, matrices[t])
        if traces.min() <= trace_limit:
            kept.append(t)
            last = matrices[t]
    return np.asarray(kept, dtype=np.int64)


def _clip_hash(clip_id: str) -> str:
    return hashlib.sha256(clip_id.encode("utf-8")).hexdigest()


def split_clips(
    clip_ids: Sequence[str], sources: Sequence[str], val_fraction: float
) -> dict[str, str]:
    """Assign each clip to ``train`` or ``val``, per source, by a hash of its id.

    Per source with ``n`` clips, ``round(val_fraction * n)`` clips go to validation (at least
    one when ``n >= 3`` and ``val_fraction > 0``, none for a single clip); the ones with the
    smallest sha256 of their id. Stable under adding clips of other sources, seed free.
    """
    if not 0.0 <= val_fraction < 1.0:
        raise PoseInputError(f"val_fraction must be in [0, 1), got {val_fraction}")
    by_source: dict[str, list[str]] = {}
    for clip_id, source in zip(clip_ids, sources, strict=True):
        by_source.setdefault(source, []).append(clip_id)
    split: dict[str, str] = {}
    for ids in by_source.values():
        ordered = sorted(ids, key=_clip_hash)
        n_val = math.floor(val_fraction * len(ordered) + 0.5)
        if val_fraction > 0 and len(ordered) >= 3:
            n_val = max(n_val, 1)
        n_val = min(n_val, len(ordered) - 1) if len(ordered) > 1 else 0
        for rank, clip_id in enumerate(ordered):
            split[clip_id] = "val" if rank < n_val else "train"
    return split


class _ReducedClip(NamedTuple):
    """A clip after resampling, heading removal, de-duplication and mirroring."""

    clip_id: str
    source: str
    licence: str
    origin: str
    fps: float
    variants: list[tuple[str, bool, torch.Tensor]]  # (clip id, mirrored, poses [T', 72])
    frame_index: npt.NDArray[np.int64]


def build_corpus_from_sequences(
    sequences: Iterable[PoseSequence],
    *,
    target_fps: float = 30.0,
    min_joint_change_deg: float = 5.0,
    mirror: bool = True,
    val_fraction: float = 0.2,
    split_overrides: dict[str, str] | None = None,
    provenance: dict[str, Any] | None = None,
    version: str = CORPUS_VERSION,
    decimals: int | None = 6,
) -> PoseCorpus:
    """Turn loaded clips (open sources, AMASS, or both) into a :class:`PoseCorpus`.

    Args:
        sequences: clips from any loader (a list or a stream such as
            :func:`~lgd_ros.data.amass.iter_amass_directory`); clip ids must be unique.
        target_fps: resampling rate before de-duplication.
        min_joint_change_deg: near-duplicate threshold (see :func:`dedup_frames`).
        mirror: add a left-right mirrored copy of every clip.
        val_fraction: share of clips per source that go to validation.
        split_overrides: clip id -> ``"train"``/``"val"``, to pin particular clips.
        provenance: build record stored with the corpus.
        version: version string stored with the corpus.
        decimals: round poses to this many decimals (radians) before storing; 1e-6 rad is far
            below any pose difference that matters, and it keeps the file's bytes the same when
            the rotation code changes at round-off level. None keeps full precision.

    Returns:
        The corpus (poses float32, heading removed).

    Raises:
        PoseInputError: duplicate clip ids, no clips, or bad parameters.
    """
    # Clips are reduced one at a time (resample, heading, de-duplicate, mirror) so a stream
    # of sequences (iter_amass_directory) never has to be held in memory as a whole; the
    # split needs every id, so ClipInfo records are made at the end.
    reduced: list[_ReducedClip] = []
    seen: set[str] = set()
    for clip in sequences:
        if clip.clip_id in seen:
            raise PoseInputError(f"duplicate clip ids: {clip.clip_id}")
        seen.add(clip.clip_id)
        picked = resample_indices(clip.num_frames, clip.fps, target_fps)
        poses = remove_heading(torch.from_numpy(clip.poses[picked]).to(torch.float64))
        kept = dedup_frames(poses, min_joint_change_deg)
        variants = [(clip.clip_id, False, poses[kept])]
        if mirror:
            variants.append((clip.clip_id + MIRROR_SUFFIX, True, mirror_pose(poses[kept])))
        if decimals is not None:
            variants = [(i, m, torch.round(b, decimals=decimals)) for i, m, b in variants]
        variants = [(i, m, b.to(torch.float32)) for i, m, b in variants]
        # Keep only the clip's metadata and its reduced poses, not the full-rate poses.
        reduced.append(
            _ReducedClip(
                clip.clip_id,
                clip.source,
                clip.licence,
                clip.origin,
                min(target_fps, clip.fps),
                variants,
                picked[kept],
            )
        )
    if not reduced:
        raise PoseInputError("build_corpus_from_sequences: no sequences given")
    split = split_clips([r.clip_id for r in reduced], [r.source for r in reduced], val_fraction)
    for clip_id, side in (split_overrides or {}).items():
        if clip_id not in split:
            raise PoseInputError(f"split_overrides names unknown clip {clip_id!r}")
        if side not in SPLITS:
            raise PoseInputError(f"split_overrides[{clip_id!r}] must be train or val, got {side!r}")
        split[clip_id] = side

    pose_blocks: list[torch.Tensor] = []
    clip_index: list[npt.NDArray[np.int64]] = []
    frame_index: list[npt.NDArray[np.int64]] = []
    infos: list[ClipInfo] = []
    for header in reduced:
        for clip_id, mirrored, block in header.variants:
            infos.append(
                ClipInfo(
                    clip_id=clip_id,
                    source=header.source,
                    licence=header.licence,
                    split=split[header.clip_id],
                    fps=float(header.fps),
                    num_frames=int(block.shape[0]),
                    mirrored=mirrored,
                    origin=header.origin,
                )
            )
            pose_blocks.append(block)
            clip_index.append(np.full(block.shape[0], len(infos) - 1, dtype=np.int64))
            frame_index.append(header.frame_index)
    return PoseCorpus(
        poses=torch.cat(pose_blocks).contiguous(),
        clip_index=torch.from_numpy(np.concatenate(clip_index)),
        frame_index=torch.from_numpy(np.concatenate(frame_index)),
        clips=tuple(infos),
        version=version,
        provenance=dict(provenance or {}),
    )


def merge_corpora(*corpora: PoseCorpus, version: str | None = None) -> PoseCorpus:
    """Concatenate corpora (e.g. the open corpus and one built from AMASS).

    Clip ids must not collide; provenance records are kept under ``"merged"``.
    """
    if not corpora:
        raise PoseInputError("merge_corpora: nothing to merge")
    clips: list[ClipInfo] = []
    offsets = []
    for corpus in corpora:
        offsets.append(len(clips))
        clips.extend(corpus.clips)
    ids = [c.clip_id for c in clips]
    if len(set(ids)) != len(ids):
        raise PoseInputError("merge_corpora: clip ids collide between corpora")
    return PoseCorpus(
        poses=torch.cat([c.poses for c in corpora]),
        clip_index=torch.cat([c.clip_index + o for c, o in zip(corpora, offsets, strict=True)]),
        frame_index=torch.cat([c.frame_index for c in corpora]),
        clips=tuple(clips),
        version=version or corpora[0].version,
        provenance={"merged": [c.provenance for c in corpora]},
    )


# ----------------------------------------------------------------------------- file I/O

_ZIP_DATE = (1980, 1, 1, 0, 0, 0)
# Per-clip arrays besides clip_ids, each [num_clips].
_CLIP_KEYS = (
    "clip_sources",
    "clip_licences",
    "clip_splits",
    "clip_fps",
    "clip_num_frames",
    "clip_mirrored",
    "clip_origins",
)
_REQUIRED_KEYS = (
    "version",
    "poses",
    "clip_index",
    "frame_index",
    "clip_ids",
    *_CLIP_KEYS,
    "provenance_json",
)


def _array_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.require(array, requirements="C"), allow_pickle=False)
    return buffer.getvalue()


def save_pose_corpus(corpus: PoseCorpus, path: str | Path) -> Path:
    """Write ``corpus`` as a compressed ``.npz`` that ``numpy.load`` reads without pickle.

    Entries are written in a fixed order with a fixed timestamp, so equal corpora give equal
    bytes (``numpy.savez`` stamps the current time into the zip).
    """
    path = Path(path)
    clips = corpus.clips
    arrays: dict[str, np.ndarray] = {
        "version": np.array(corpus.version),
        "poses": corpus.poses.detach().cpu().numpy().astype(np.float32),
        "clip_index": corpus.clip_index.cpu().numpy().astype(np.int32),
        "frame_index": corpus.frame_index.cpu().numpy().astype(np.int32),
        "clip_ids": np.array([c.clip_id for c in clips]),
        "clip_sources": np.array([c.source for c in clips]),
        "clip_licences": np.array([c.licence for c in clips]),
        "clip_splits": np.array([c.split for c in clips]),
        "clip_fps": np.array([c.fps for c in clips], dtype=np.float64),
        "clip_num_frames": np.array([c.num_frames for c in clips], dtype=np.int32),
        "clip_mirrored": np.array([c.mirrored for c in clips], dtype=bool),
        "clip_origins": np.array([c.origin for c in clips]),
        "provenance_json": np.array(json.dumps(corpus.provenance, sort_keys=True, indent=1)),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in _REQUIRED_KEYS:
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, _array_bytes(arrays[key]), compresslevel=9)
    return path


def load_pose_corpus(path: str | Path | None = None) -> PoseCorpus:
    """Load a corpus file; ``None`` = the open corpus shipped in the package.

    Raises:
        CorpusError: the file is missing, not an ``.npz``, lacks arrays, has inconsistent
            shapes, or is of another version family.
    """
    path = DEFAULT_CORPUS_PATH if path is None else Path(path)
    if not path.is_file():
        raise CorpusError(f"{path}: pose corpus file not found")
    try:
        with np.load(path, allow_pickle=False) as data:
            missing = [key for key in _REQUIRED_KEYS if key not in data.files]
            if missing:
                raise CorpusError(
                    f"{path}: not a pose corpus (missing arrays: {', '.join(missing)})"
                )
            arrays = {key: data[key] for key in _REQUIRED_KEYS}
    except CorpusError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise CorpusError(f"{path}: cannot read pose corpus ({exc})") from None
    version = str(arrays["version"].reshape(-1)[0]) if arrays["version"].size == 1 else ""
    if not version.startswith("pose_corpus_v"):
        raise CorpusError(f"{path}: unsupported corpus version {version!r}")
    poses = arrays["poses"]
    if poses.ndim != 2 or poses.shape[1] != POSE_DIM or poses.dtype != np.float32:
        raise CorpusError(
            f"{path}: poses must be float32 [N, {POSE_DIM}], got {poses.dtype} {poses.shape}"
        )
    num_clips = arrays["clip_ids"].shape[0]
    for key in _CLIP_KEYS:
        if arrays[key].shape != (num_clips,):
            raise CorpusError(
                f"{path}: {key} must have one entry per clip ({num_clips}), got {arrays[key].shape}"
            )
    clips = tuple(
        ClipInfo(
            clip_id=str(arrays["clip_ids"][i]),
            source=str(arrays["clip_sources"][i]),
            licence=str(arrays["clip_licences"][i]),
            split=str(arrays["clip_splits"][i]),
            fps=float(arrays["clip_fps"][i]),
            num_frames=int(arrays["clip_num_frames"][i]),
            mirrored=bool(arrays["clip_mirrored"][i]),
            origin=str(arrays["clip_origins"][i]),
        )
        for i in range(num_clips)
    )
    try:
        provenance = json.loads(str(arrays["provenance_json"].reshape(-1)[0]))
        return PoseCorpus(
            poses=torch.from_numpy(poses.copy()),
            clip_index=torch.from_numpy(arrays["clip_index"].astype(np.int64)),
            frame_index=torch.from_numpy(arrays["frame_index"].astype(np.int64)),
            clips=clips,
            version=version,
            provenance=provenance,
        )
    except (PoseInputError, json.JSONDecodeError) as exc:
        raise CorpusError(f"{path}: inconsistent pose corpus ({exc})") from None
