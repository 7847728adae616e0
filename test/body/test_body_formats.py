"""Keypoint formats as data: definitions, resolution per model, mirroring."""

from __future__ import annotations

import pytest

from lgd_ros.body import KEYPOINT_FORMAT_NAMES, KeypointFormatError, get_keypoint_format
from lgd_ros.body.model_file import SMPL_LANDMARK_VERTEX_IDS

EXPECTED_COUNTS = {"smpl24": 24, "coco17": 17, "openpose18": 18, "body25": 25,
                   "blazepose33": 33}


def test_registry_and_sizes() -> None:
    assert set(KEYPOINT_FORMAT_NAMES) == set(EXPECTED_COUNTS)
    for name, count in EXPECTED_COUNTS.items():
        fmt = get_keypoint_format(name)
        assert fmt.num_keypoints == count
        assert get_keypoint_format(fmt) is fmt
        permutation = fmt.mirror_permutation
        assert sorted(permutation) == list(range(count))
        assert all(permutation[permutation[i]] == i for i in range(count))
        for a, b in fmt.skeleton_edges:
            assert 0 <= a < count and 0 <= b < count


def test_known_positions() -> None:
    assert get_keypoint_format("coco17").keypoint_names[5] == "left_shoulder"
    assert get_keypoint_format("openpose18").keypoint_names[1] == "neck"
    assert get_keypoint_format("openpose18").keypoint_names[14] == "right_eye"
    body25 = get_keypoint_format("body25")
    assert body25.keypoint_names[8] == "mid_hip" and body25.keypoint_names[24] == "right_heel"
    assert get_keypoint_format("blazepose33").keypoint_names[31] == "left_foot_index"


def test_resolution_for_an_official_smpl_file() -> None:
    landmarks = list(SMPL_LANDMARK_VERTEX_IDS)
    sources = get_keypoint_format("coco17").resolve(landmarks)
    kinds = [s.kind for s in sources]
    assert kinds[:5] == ["landmark"] * 5  # face points at vertices
    assert kinds[5:] == ["joint"] * 12  # limbs fall back to SMPL joints
    blaze = get_keypoint_format("blazepose33")
    blaze_kinds = dict(zip(blaze.keypoint_names, (s.kind for s in blaze.resolve(landmarks)),
                           strict=True))
    assert blaze_kinds["mouth_left"] == "unavailable"
    assert blaze_kinds["left_foot_index"] == "landmark"
    assert blaze_kinds["left_hip"] == "joint"


def test_errors() -> None:
    with pytest.raises(KeypointFormatError, match="unknown keypoint format 'coco18'"):
        get_keypoint_format("coco18")
    with pytest.raises(KeypointFormatError, match="has no keypoint 'tail'"):
        get_keypoint_format("coco17").index("tail")
