"""MoCap pose data: motion-file loaders, SMPL retargeting, the pose corpus, augmentation.

Every loader returns a :class:`PoseSequence` (SMPL-layout axis-angle poses ``[T, 72]`` in a
y-up world, optional betas and translation, fps, clip id, source, licence). The open corpus
shipped with the package (CMU and DeepMimic motions that registry packages carry) is loaded
with :func:`load_pose_corpus`; AMASS, which users download themselves, is read with
:func:`load_amass_directory` and turned into a corpus with
:func:`build_corpus_from_sequences`.
"""

from lgd_ros.data.acclaim import CMU_SMPL_JOINT_MAP, load_asf_amc, parse_amc, parse_asf
from lgd_ros.data.amass import load_amass_directory, load_amass_npz
from lgd_ros.data.augment import AugmentedPoses, augment_poses
from lgd_ros.data.bvh import load_bvh, parse_bvh
from lgd_ros.data.corpus import (
    CORPUS_VERSION,
    DEFAULT_CORPUS_PATH,
    ClipInfo,
    PoseCorpus,
    build_corpus_from_sequences,
    load_pose_corpus,
    merge_corpora,
    save_pose_corpus,
)
from lgd_ros.data.deepmimic import load_deepmimic
from lgd_ros.data.dm_control import load_dm_control_clips, read_envpool_mocap
from lgd_ros.data.errors import (
    CorpusError,
    DataError,
    JointMapError,
    MotionFileError,
    MotionFileNotFoundError,
    PoseInputError,
    UnknownMotionFormatError,
)
from lgd_ros.data.loaders import load_motion_file
from lgd_ros.data.sequence import PoseSequence

__all__ = [
    "CMU_SMPL_JOINT_MAP",
    "CORPUS_VERSION",
    "DEFAULT_CORPUS_PATH",
    "AugmentedPoses",
    "ClipInfo",
    "CorpusError",
    "DataError",
    "JointMapError",
    "MotionFileError",
    "MotionFileNotFoundError",
    "PoseCorpus",
    "PoseInputError",
    "PoseSequence",
    "UnknownMotionFormatError",
    "augment_poses",
    "build_corpus_from_sequences",
    "load_amass_directory",
    "load_amass_npz",
    "load_asf_amc",
    "load_bvh",
    "load_deepmimic",
    "load_dm_control_clips",
    "load_motion_file",
    "load_pose_corpus",
    "merge_corpora",
    "parse_amc",
    "parse_asf",
    "parse_bvh",
    "read_envpool_mocap",
    "save_pose_corpus",
]
