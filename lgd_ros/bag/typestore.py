"""Message types for reading and writing bags without a ROS install.

rosbags ships the standard ROS 2 types (``sensor_msgs``, ``visualization_msgs``,
``tf2_msgs``, ...). lgd_ros' own messages are registered from the package's ``.msg``
files, so the bag tool can never drift from what the node publishes; ``hri_msgs/IdsList``
(REP-155's ``humans/bodies/tracked``) from its two-line definition below. rosbags
computes each type's RIHS01 hash from its definition, the same hash rosidl computes,
so readers with real ROS installs accept the bags written here.

Where the ``.msg`` files are looked up, first match wins:

1. ``$LGD_ROS_MSG_DIR`` (a directory holding ``FittedBody.msg`` etc.);
2. ``msg/`` next to the ``lgd_ros`` package directory (a source checkout, an editable
   install);
3. ``share/lgd_ros/msg`` under ``sys.prefix`` (``pip install .`` with the package's
   ``data_files``) and under every ``$AMENT_PREFIX_PATH`` entry (a colcon install).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore
from rosbags.typesys.store import Typestore

from lgd_ros.bag.errors import MessageDefinitionError

__all__ = [
    "FITTED_BODY",
    "FITTED_BODY_ARRAY",
    "HRI_IDS_LIST",
    "HRI_IDS_LIST_DEFINITION",
    "LGD_MESSAGE_NAMES",
    "PERSON_KEYPOINTS",
    "PERSON_KEYPOINTS_ARRAY",
    "ROS_DISTRIBUTION",
    "find_msg_dir",
    "lgd_message_definitions",
    "output_typestore",
]

ROS_DISTRIBUTION = Stores.ROS2_KILTED
"""Standard message definitions used for output (the distribution of the ROS wheels the
node is built against); input bags bring their own definitions."""

PACKAGE = "lgd_ros"
LGD_MESSAGE_NAMES: tuple[str, ...] = (
    "PersonKeypoints", "PersonKeypointsArray", "FittedBody", "FittedBodyArray")
PERSON_KEYPOINTS = f"{PACKAGE}/msg/PersonKeypoints"
PERSON_KEYPOINTS_ARRAY = f"{PACKAGE}/msg/PersonKeypointsArray"
FITTED_BODY = f"{PACKAGE}/msg/FittedBody"
FITTED_BODY_ARRAY = f"{PACKAGE}/msg/FittedBodyArray"

HRI_IDS_LIST = "hri_msgs/msg/IdsList"
HRI_IDS_LIST_DEFINITION = "# A list of IDs (eg, faces, bodies, persons)\nstd_msgs/Header header\nstring[] ids\n"
"""``hri_msgs/msg/IdsList`` as ROS4HRI's hri_msgs (BSD) defines it; comments do not
enter the type hash."""

MSG_DIR_ENVIRONMENT_VARIABLE = "LGD_ROS_MSG_DIR"


def _candidate_msg_dirs() -> list[Path]:
    candidates: list[Path] = []
    if override := os.environ.get(MSG_DIR_ENVIRONMENT_VARIABLE):
        candidates.append(Path(override))
    package_dir = Path(__file__).resolve().parents[1]  # .../lgd_ros
    candidates.append(package_dir.parent / "msg")
    prefixes = [sys.prefix, *filter(None, os.environ.get("AMENT_PREFIX_PATH", "").split(os.pathsep))]
    candidates += [Path(prefix) / "share" / PACKAGE / "msg" for prefix in prefixes]
    return candidates


def find_msg_dir(candidates: Iterable[Path] | None = None) -> Path:
    """The directory holding lgd_ros' ``.msg`` files (lookup order in the module docstring).

    Raises:
        MessageDefinitionError: none of the places holds all of them; the message lists
            every place looked at.
    """
    places = list(candidates) if candidates is not None else _candidate_msg_dirs()
    for place in places:
        if all((place / f"{name}.msg").is_file() for name in LGD_MESSAGE_NAMES):
            return place
    looked = ", ".join(str(p) for p in places)
    raise MessageDefinitionError(
        f"cannot find lgd_ros' message definitions ({', '.join(n + '.msg' for n in LGD_MESSAGE_NAMES)}); "
        f"looked in: {looked}. Set {MSG_DIR_ENVIRONMENT_VARIABLE} to the package's msg/ directory, "
        f"or install lgd_ros with its share/lgd_ros/msg data files")


@lru_cache(maxsize=4)
def lgd_message_definitions(msg_dir: Path | None = None) -> dict[str, str]:
    """``{"lgd_ros/msg/FittedBody": "<.msg text>", ...}`` read from :func:`find_msg_dir`."""
    directory = msg_dir if msg_dir is not None else find_msg_dir()
    return {f"{PACKAGE}/msg/{name}": (directory / f"{name}.msg").read_text(encoding="utf-8")
            for name in LGD_MESSAGE_NAMES}


def register_definitions(typestore: Typestore, definitions: dict[str, str]) -> None:
    """Parse ``.msg`` texts and add them to ``typestore``.

    Raises:
        MessageDefinitionError: a text does not parse, or clashes with a type already in
            the store.
    """
    types = {}
    for name, text in definitions.items():
        try:
            types.update(get_types_from_msg(text, name))
        except Exception as error:  # rosbags raises its own TypesysError / parser errors
            raise MessageDefinitionError(f"cannot parse the definition of {name}: {error}") from error
    try:
        typestore.register(types)
    except Exception as error:
        raise MessageDefinitionError(f"cannot register {', '.join(types)}: {error}") from error


def output_typestore(msg_dir: Path | None = None) -> Typestore:
    """A fresh store: standard ROS 2 types, lgd_ros' messages and ``hri_msgs/IdsList``.

    Raises:
        MessageDefinitionError: lgd_ros' ``.msg`` files are missing or unparsable.
    """
    typestore = get_typestore(ROS_DISTRIBUTION)
    definitions = dict(lgd_message_definitions(msg_dir))
    definitions[HRI_IDS_LIST] = HRI_IDS_LIST_DEFINITION
    register_definitions(typestore, definitions)
    return typestore
