"""The fitting node over real DDS: a node process, a test client, our messages."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from lgd_ros.msg import FittedBody, FittedBodyArray, PersonKeypoints, PersonKeypointsArray
from sensor_msgs.msg import CameraInfo

from lgd_ros.ros import testing
from lgd_ros.ros.conversions import fill_camera_info, fill_person_keypoints
from lgd_ros.ros.node_process import NodeProcess

COCO17 = 17
K = np.array([[600.0, 0, 320], [0, 600.0, 240], [0, 0, 1]])


def make_keypoints(stamp_sec: int, people: int = 1, count: int = COCO17, fmt: str = "coco17",
                   frame_id: str = "camera_optical") -> PersonKeypointsArray:
    msg = PersonKeypointsArray()
    msg.header.frame_id = frame_id
    msg.header.stamp.sec = stamp_sec
    msg.header.stamp.nanosec = 123
    rng = np.random.default_rng(stamp_sec)
    for person_id in range(people):
        keypoints = rng.uniform([200, 100], [440, 400], size=(count, 2))
        msg.people.append(fill_person_keypoints(PersonKeypoints(), keypoints, np.full(count, 0.9),
                                                fmt, person_id=person_id))
    return msg


class FitNodeClient(testing.FitNodeClient):
    """Adds the exchange-and-expect helpers these tests use."""

    def __init__(self, node: object, prefix: str = "") -> None:
        super().__init__(node, prefix, collect_outputs=False)

    def send_camera_info(self, matrix: np.ndarray = K, *args: object, **kwargs: object) -> None:
        super().send_camera_info(matrix, *args, **kwargs)

    def exchange(self, msg: PersonKeypointsArray, expect_output: bool = True) -> list[FittedBodyArray]:
        before = len(self.bodies.messages)
        self.keypoints_pub.publish(msg)
        if expect_output:
            return self.bodies.wait_for_count(before + 1, timeout=20)[before:]
        # Expecting silence: publish a few times, in case the node's reader
        # matched our writer a moment after our writer matched it.
        for _ in range(4):
            self.bodies.spin_for(0.25)
            self.keypoints_pub.publish(msg)
        return self.bodies.spin_for(0.5)[before:]


@pytest.fixture
def fit_node(start_node: Callable[..., NodeProcess], test_node: object) -> tuple[NodeProcess, FitNodeClient]:
    process = start_node()
    client = FitNodeClient(test_node)
    client.wait_connected()
    return process, client


def test_one_body_array_per_keypoints_message_with_input_header(fit_node) -> None:
    process, client = fit_node
    client.send_camera_info()
    # CameraInfo is best effort: resend until the node has one and answers.
    for attempt in range(20):
        out = client.exchange(make_keypoints(100 + attempt, people=2), expect_output=False)
        if out:
            out = out[:1]
            break
        client.send_camera_info()
    assert out, "node never answered a valid keypoints message"
    bodies = out[0]
    assert bodies.header.frame_id == "camera_optical"
    assert bodies.header.stamp.nanosec == 123
    assert len(bodies.bodies) == 2
    assert [b.track_id for b in bodies.bodies] == [0, 1]
    for body in bodies.bodies:
        assert len(body.pose) == 72 and len(body.betas) == 10
        assert body.fit_status in (FittedBody.FIT_OK, FittedBody.FIT_FAILED, FittedBody.NO_MODEL_LOADED)
        if body.fit_status == FittedBody.NO_MODEL_LOADED:
            assert body.fit_status_message
            assert not np.any(np.asarray(body.pose))
    process.assert_running()


def _ready(client: FitNodeClient) -> None:
    for attempt in range(20):
        client.send_camera_info()
        if client.exchange(make_keypoints(1000 + attempt), expect_output=False):
            return
    raise AssertionError("node never became ready")


def _nan_keypoints() -> PersonKeypointsArray:
    msg = make_keypoints(7)
    msg.people[0].u[3] = math.nan
    return msg


def _zero_confidence() -> PersonKeypointsArray:
    msg = make_keypoints(8)
    msg.people[0].confidence = [0.0] * COCO17
    return msg


def _ragged() -> PersonKeypointsArray:
    msg = make_keypoints(9)
    msg.people[0].v = msg.people[0].v[:-1]
    return msg


BAD_MESSAGES = {
    "wrong keypoint count": (lambda: make_keypoints(5, count=12), "has 17 keypoints"),
    "unknown format": (lambda: make_keypoints(6, fmt="kinect_v1"), "unknown keypoint format"),
    "NaN coordinate": (_nan_keypoints, "NaN"),
    "all confidences zero": (_zero_confidence, "zero confidence"),
    "ragged arrays": (_ragged, "same length"),
}


def test_bad_messages_are_dropped_with_a_warning_and_the_node_keeps_running(fit_node) -> None:
    process, client = fit_node
    _ready(client)
    for name, (make, expected_warning) in BAD_MESSAGES.items():
        assert client.exchange(make(), expect_output=False) == [], f"{name}: got output"
        assert expected_warning in process.log(), f"{name}: no warning containing {expected_warning!r}"
        process.assert_running()
    # Still alive and answering.
    assert client.exchange(make_keypoints(50))
    process.assert_running()


def test_keypoints_without_camera_info_are_dropped_with_a_warning(fit_node) -> None:
    process, client = fit_node
    assert client.exchange(make_keypoints(3), expect_output=False) == []
    assert "no CameraInfo received" in process.log()
    process.assert_running()


def test_degenerate_camera_info_is_refused(fit_node) -> None:
    process, client = fit_node
    bad = fill_camera_info(CameraInfo(), np.zeros((3, 3)), 640, 480, "camera_optical")
    for _ in range(5):
        client.camera_pub.publish(bad)
        client.bodies.spin_for(0.2)
    assert client.exchange(make_keypoints(4), expect_output=False) == []
    assert "non-positive focal length" in process.log()
    process.assert_running()


def test_camera_images_are_detected_and_fitted(start_node, test_node) -> None:
    """The image input, end to end over DDS: a real video frame (Sports2D's demo, two
    people) in, fitted bodies out. With an image input the keypoint format is known (the
    detector's), so the node prepares that fitter at start-up, before the first frame."""
    import time

    from sensor_msgs.msg import Image

    from lgd_ros.detect import find_sports2d_demo_video, read_video_frames
    from lgd_ros.ros.conversions import fill_image

    process = start_node(parameters={"image_topic": "image_raw"})
    client = FitNodeClient(test_node)
    image_pub = test_node.create_publisher(Image, "image_raw", 10)
    client.wait_connected()
    testing.wait_for_subscribers(test_node, image_pub)
    deadline = time.monotonic() + 60
    while "loaded and prepared" not in process.log() and time.monotonic() < deadline:
        client.bodies.spin_for(0.2)
    assert "fitter for the image detector's blazepose33 keypoints loaded and prepared" \
        in process.log()
    frame = read_video_frames(find_sports2d_demo_video(), (80,))[80][::2, ::2]  # 884 x 497
    height, width = frame.shape[:2]
    matrix = np.array([[0.8 * width, 0, width / 2], [0, 0.8 * width, height / 2], [0, 0, 1]])
    out: list[FittedBodyArray] = []
    for attempt in range(20):
        client.send_camera_info(matrix, width, height)
        image = fill_image(Image(), np.ascontiguousarray(frame), "camera_optical")
        image.header.stamp.sec = 50 + attempt
        before = len(client.bodies.messages)
        image_pub.publish(image)
        out = [m for m in client.bodies.spin_for(1.5)[before:] if m.bodies]
        if out:
            break
    assert out, "no fitted bodies came back for a frame with two people"
    bodies = out[0].bodies
    assert 1 <= len(bodies) <= 2
    assert any(b.fit_status == FittedBody.FIT_OK for b in bodies)
    assert "image detector: BlazePose" in process.log()
    process.assert_running()


def test_topics_follow_remaps_and_namespace(start_node, test_node) -> None:
    start_node(remaps={"__ns": "/front", "keypoints": "detector/people"})
    client = FitNodeClient(test_node, prefix="/front/")
    client.keypoints_pub = test_node.create_publisher(PersonKeypointsArray, "/front/detector/people", 10)
    client.wait_connected()
    _ready(client)


def test_installed_executable_runs_like_ros2_run(start_node, test_node) -> None:
    """`ros2 run lgd_ros fit_node` runs install/lgd_ros/lib/lgd_ros/fit_node."""
    executable = Path(__file__).resolve().parents[2] / "build/ws/install/lgd_ros/lib/lgd_ros/fit_node"
    if not executable.exists():
        pytest.skip(f"{executable} not built (make msgs builds it)")
    start_node(executable=[str(executable)])
    client = FitNodeClient(test_node)
    client.wait_connected()
    _ready(client)


def test_integer_for_a_float_parameter_is_accepted(start_node, test_node, tmp_path) -> None:
    params = tmp_path / "fit.yaml"
    params.write_text("/**:\n  ros__parameters:\n    track_max_age_s: 2\n")
    process = start_node(params_file=params)
    client = FitNodeClient(test_node)
    client.wait_connected()
    _ready(client)
    process.assert_running()


def test_invalid_parameter_stops_the_node_with_a_clear_message(start_node) -> None:
    import time

    process = start_node(parameters={"max_people": "0"})
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert process.poll() == 2
    assert "invalid parameter: max_people must be >= 1" in process.log()
