"""Messages, isolation and package boundaries that the ROS layer relies on."""

from __future__ import annotations

import ast
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
from lgd_ros.msg import FittedBody, FittedBodyArray, PersonKeypoints, PersonKeypointsArray
from rclpy.serialization import deserialize_message, serialize_message

from lgd_ros.ros.isolation import loopback_environment, loopback_profile_path, pick_domain_id

REPO = Path(__file__).resolve().parents[2]


def test_messages_round_trip_through_cdr() -> None:
    body = FittedBody(track_id=7, fit_status=FittedBody.FIT_OK, steps_used=3, warm_started=True)
    body.pose = np.linspace(-1, 1, 72, dtype=np.float32)
    body.betas = np.arange(10, dtype=np.float32)
    body.translation.z = 2.5
    array = FittedBodyArray(body_model="lgd_default_anny", bodies=[body])
    array.header.frame_id = "camera_optical"
    back = deserialize_message(serialize_message(array), FittedBodyArray)
    assert back.header.frame_id == "camera_optical"
    assert back.bodies[0].track_id == 7 and back.bodies[0].warm_started
    np.testing.assert_allclose(back.bodies[0].pose, body.pose)
    assert back.bodies[0].translation.z == 2.5
    people = PersonKeypointsArray(people=[PersonKeypoints(keypoint_format="coco17", u=[1.0], v=[2.0],
                                                          confidence=[0.5], person_id=-1)])
    assert deserialize_message(serialize_message(people), PersonKeypointsArray).people[0].v[0] == 2.0


def test_loopback_profile_allows_only_lo_without_builtin_transports() -> None:
    ns = {"d": "http://www.eprosima.com"}
    root = ET.parse(loopback_profile_path()).getroot()
    interfaces = [i.get("name") for i in root.iter("{http://www.eprosima.com}interface")]
    assert interfaces == ["lo"]
    builtin = root.find(".//d:participant/d:rtps/d:useBuiltinTransports", ns)
    assert builtin is not None and builtin.text == "false"
    participant = root.find(".//d:participant", ns)
    assert participant is not None and participant.get("is_default_profile") == "true"


def test_loopback_environment_sets_every_isolation_variable() -> None:
    env = loopback_environment(42, base={"ROS_STATIC_PEERS": "10.0.0.1"})
    assert env["ROS_DOMAIN_ID"] == "42"
    assert env["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert Path(env["FASTDDS_DEFAULT_PROFILES_FILE"]).is_file()
    assert "ROS_STATIC_PEERS" not in env
    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"  # applied by test/conftest.py
    assert 1 <= pick_domain_id() <= 101


def test_rclpy_is_imported_only_in_the_ros_layer() -> None:
    offenders = []
    for path in (REPO / "lgd_ros").rglob("*.py"):
        relative = path.relative_to(REPO / "lgd_ros")
        if relative.parts[0] in {"ros", "msg"}:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            if any(n.split(".")[0] in {"rclpy", "rosidl_runtime_py", "sensor_msgs", "std_msgs",
                                       "geometry_msgs", "visualization_msgs"} for n in names):
                offenders.append(f"{relative}:{node.lineno}")
    assert offenders == [], f"ROS imports outside lgd_ros/ros: {offenders}"


def _udp_sockets_of(pid: int) -> list[tuple[str, int]]:
    """(local address, port) of the UDP sockets a process holds, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    sockets = []
    for line in Path(f"/proc/{pid}/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[9] in inodes:
            address_hex, port_hex = fields[1].split(":")
            address = ".".join(str(b) for b in bytes.fromhex(address_hex)[::-1])
            sockets.append((address, int(port_hex, 16)))
    return sockets


def test_node_process_listens_only_on_loopback(start_node, test_node, ros_domain_id) -> None:
    from lgd_ros.ros.testing import spin_until

    process = start_node()
    publisher = test_node.create_publisher(PersonKeypointsArray, "keypoints", 10)
    spin_until(test_node, lambda: publisher.get_subscription_count() > 0, 15, "node discovery")
    # RTPS well-known ports of this domain: 7400 + 250 * domain_id + [0, 250).
    base = 7400 + 250 * ros_domain_id
    listening = [(a, p) for a, p in _udp_sockets_of(process.pid) if base <= p < base + 250]
    assert listening, "node holds no RTPS socket on its domain's ports"
    assert {a for a, _ in listening} == {"127.0.0.1"}, listening
