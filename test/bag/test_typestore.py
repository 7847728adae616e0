"""Message types without ROS: lgd_ros' .msg files and hri_msgs/IdsList in rosbags' store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lgd_ros.bag.errors import MessageDefinitionError
from lgd_ros.bag.typestore import (
    FITTED_BODY_ARRAY,
    HRI_IDS_LIST,
    LGD_MESSAGE_NAMES,
    PERSON_KEYPOINTS_ARRAY,
    find_msg_dir,
    output_typestore,
)

REPO = Path(__file__).resolve().parents[2]


def test_definitions_come_from_the_packages_msg_files() -> None:
    assert find_msg_dir() == REPO / "msg"
    store = output_typestore()
    names = [name for name, _ in store.fielddefs[FITTED_BODY_ARRAY][1]]
    assert names == ["header", "body_model", "body_model_fingerprint", "bodies"]
    assert [name for name, _ in store.fielddefs[HRI_IDS_LIST][1]] == ["header", "ids"]
    assert PERSON_KEYPOINTS_ARRAY in store.types


def test_missing_definitions_say_where_they_were_looked_for(tmp_path: Path) -> None:
    with pytest.raises(MessageDefinitionError, match=f"looked in: {tmp_path}.*LGD_ROS_MSG_DIR"):
        find_msg_dir([tmp_path])


def test_environment_variable_points_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in LGD_MESSAGE_NAMES:
        (tmp_path / f"{name}.msg").write_text((REPO / "msg" / f"{name}.msg").read_text())
    monkeypatch.setenv("LGD_ROS_MSG_DIR", str(tmp_path))
    assert find_msg_dir() == tmp_path


@pytest.mark.parametrize(("package", "name", "msgtype"), [
    ("lgd_ros", "FittedBodyArray", FITTED_BODY_ARRAY),
    ("lgd_ros", "PersonKeypointsArray", PERSON_KEYPOINTS_ARRAY),
    ("hri_msgs", "IdsList", HRI_IDS_LIST),
])
def test_type_hashes_equal_rosidls(package: str, name: str, msgtype: str) -> None:
    """rosidl writes each type's RIHS01 hash next to the built message; ours must match, or
    ROS tools would reject the bags."""
    built = REPO / "build" / "ws" / "install" / package / "share" / package / "msg" / f"{name}.json"
    if not built.is_file():
        pytest.skip(f"{built} not built (make msgs)")
    description = json.loads(built.read_text())
    hashes = {h["type_name"]: h["hash_string"] for h in description["type_hashes"]}
    assert output_typestore().hash_rihs01(msgtype) == hashes[f"{package}/msg/{name}"]
