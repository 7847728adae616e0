"""One entry point for any supported motion file: dispatch by extension, checked by content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lgd_ros.data.acclaim import load_asf_amc
from lgd_ros.data.amass import load_amass_npz
from lgd_ros.data.bvh import load_bvh
from lgd_ros.data.deepmimic import load_deepmimic
from lgd_ros.data.errors import (
    MotionFileError,
    MotionFileNotFoundError,
    UnknownMotionFormatError,
)
from lgd_ros.data.sequence import PoseSequence

__all__ = ["SUPPORTED_EXTENSIONS", "load_motion_file"]

SUPPORTED_EXTENSIONS = (".npz", ".amc", ".bvh", ".txt", ".json")


def load_motion_file(path: str | Path, **options: Any) -> PoseSequence:
    """Load a motion file of any supported format as a :class:`PoseSequence`.

    * ``.npz``: AMASS (:func:`~lgd_ros.data.amass.load_amass_npz`);
    * ``.amc``: CMU/Acclaim motion; the skeleton is ``asf=`` or the only ``.asf`` beside it
      (or the one with the same stem, or the subject prefix ``01`` of ``01_02.amc``);
    * ``.bvh``: needs ``joint_map=`` (a dict or a preset name);
    * ``.txt`` / ``.json``: DeepMimic.

    Other keyword options go to the format's loader.

    Raises:
        MotionFileNotFoundError: no such file.
        UnknownMotionFormatError: an extension no loader handles (e.g. a lone ``.asf``).
        MotionFileError: the loader's own errors (they name the file).
    """
    path = Path(path)
    if not path.exists():
        raise MotionFileNotFoundError(path, "motion file not found")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return load_amass_npz(path, **options)
    if suffix == ".amc":
        asf = options.pop("asf", None)
        return load_asf_amc(asf if asf is not None else _find_asf(path), path, **options)
    if suffix == ".bvh":
        if "joint_map" not in options:
            raise MotionFileError(path, "BVH files need joint_map= (a dict or a preset name)")
        return load_bvh(path, options.pop("joint_map"), **options)
    if suffix in (".txt", ".json"):
        return load_deepmimic(path, **options)
    if suffix == ".asf":
        raise UnknownMotionFormatError(
            path, "an ASF file holds only a skeleton; load the .amc motion"
        )
    raise UnknownMotionFormatError(
        path,
        f"unknown motion format {suffix or '(no extension)'!r}; "
        f"supported: {', '.join(SUPPORTED_EXTENSIONS)} (+ .asf beside .amc)",
    )


def _find_asf(amc: Path) -> Path:
    candidates = [amc.with_suffix(".asf"), amc.with_name(amc.stem.split("_")[0] + ".asf")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    siblings = sorted(amc.parent.glob("*.asf"))
    if len(siblings) == 1:
        return siblings[0]
    raise MotionFileError(
        amc,
        f"cannot tell which skeleton belongs to it ({len(siblings)} .asf files beside it); "
        "pass asf=",
    )
