"""Round trips: synthetic input bags of both storages through `lgd-ros bag`, read back by
rosbags and by the independent `mcap` reader."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from lgd_ros.bag.cli import main
from lgd_ros.bag.params import FitParameters, LoadedParameters
from lgd_ros.bag.process import BagOptions, process_bag
from lgd_ros.body import BodyModel
from lgd_ros.body.skeleton import SMPL_JOINT_NAMES

from .helpers import read_with_mcap, read_with_rosbags

FRAME = "camera_optical_frame"
OUTPUTS = {"/bodies": "lgd_ros/msg/FittedBodyArray", "/tf": "tf2_msgs/msg/TFMessage",
           "/body_markers": "visualization_msgs/msg/MarkerArray",
           "/humans/bodies/tracked": "hri_msgs/msg/IdsList"}
INPUTS = {"/keypoints": "lgd_ros/msg/PersonKeypointsArray", "/camera_info": "sensor_msgs/msg/CameraInfo"}


def _run(bag: Path, out: Path, weights: Path, *extra: str) -> int:
    return main(["bag", str(bag), str(out), "--weights", str(weights), "--device", "cpu",
                 "--no-progress", *extra])


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_round_trip_keeps_topics_counts_and_stamps(storage: str, make_bag, any_weights: Path,
                                                   tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bag = make_bag(storage=storage, frames=6, people=2)
    out = tmp_path / "out"
    assert _run(bag.path, out, any_weights) == 0
    assert "6 read, 6 fitted" in capsys.readouterr().out

    back = read_with_rosbags(out, decode=("/bodies", "/humans/bodies/tracked"))
    assert back.types == {**INPUTS, **OUTPUTS}
    for topic in ("/keypoints", "/camera_info", "/bodies", "/humans/bodies/tracked"):
        assert back.counts[topic] == 6, topic
        assert back.log_times[topic] == bag.stamps_ns, topic  # stamped like the inputs
    model = BodyModel.load()
    for message, stamp in zip(back.messages["/bodies"], bag.stamps_ns, strict=True):
        assert (message.header.stamp.sec, message.header.stamp.nanosec) == divmod(stamp, 10**9)
        assert message.header.frame_id == FRAME
        assert (message.body_model, message.body_model_fingerprint) == (model.name, model.fingerprint)
        assert len(message.bodies) == 2 and message.bodies[0].pose.shape == (72,)
    ids = {tuple(m.ids) for m in back.messages["/humans/bodies/tracked"]}
    assert len(ids) == 1 and len(next(iter(ids))) == 2  # two stable tracks

    schemas, counts, log_times = read_with_mcap(out)
    assert schemas == back.types
    assert {t: n for t, n in counts.items() if n} == {t: n for t, n in back.counts.items() if n}
    assert {t: sorted(v) for t, v in log_times.items()} == {t: sorted(v) for t, v in back.log_times.items()}


def test_no_inputs_writes_only_results(make_bag, any_weights: Path, tmp_path: Path) -> None:
    bag = make_bag(frames=4)
    out = tmp_path / "out"
    assert _run(bag.path, out, any_weights, "--no-inputs") == 0
    back = read_with_rosbags(out)
    assert set(back.types) == set(OUTPUTS)
    assert back.counts["/bodies"] == 4


def test_fitted_bodies_give_tf_frames_and_markers(make_bag, shipped_weights: Path, tmp_path: Path) -> None:
    """With the shipped weights the synthetic people are fitted: every frame has /tf with
    body_<id> under the camera frame and a joint frame per SMPL joint, skeleton markers
    every frame and meshes at mesh_rate_hz (10 Hz of 30 Hz frames)."""
    bag = make_bag(frames=9, people=2)
    out = tmp_path / "out"
    assert _run(bag.path, out, shipped_weights) == 0
    back = read_with_rosbags(out, decode=("/bodies", "/tf", "/body_markers"))
    assert back.counts["/tf"] == 9 and back.log_times["/tf"] == bag.stamps_ns
    track_ids = {b.track_id for m in back.messages["/bodies"] for b in m.bodies if b.fit_status == 0}
    assert len(track_ids) == 2
    for message in back.messages["/tf"]:
        parents = {t.child_frame_id: t.header.frame_id for t in message.transforms}
        assert len(message.transforms) == 2 * 25
        for track in track_ids:
            assert parents[f"body_{track}"] == FRAME
            assert parents[f"pelvis_{track}"] == f"body_{track}"
            assert {f"{name}_{track}" for name in SMPL_JOINT_NAMES} <= set(parents)
    errors = [b.mean_reprojection_error_px for m in back.messages["/bodies"] for b in m.bodies]
    assert np.mean(errors) < 15.0
    kinds = Counter((mk.ns, mk.type) for m in back.messages["/body_markers"] for mk in m.markers)
    assert kinds[("lgd_body_skeleton", 5)] == 9 * 2
    assert kinds[("lgd_body_mesh", 11)] == 3 * 2  # frames 0, 3, 6 at 10 Hz


def test_interrupted_run_leaves_a_valid_bag(make_bag, any_weights: Path, tmp_path: Path) -> None:
    bag = make_bag(frames=8)
    out = tmp_path / "out"
    seen = []

    def stop_after_three(frame) -> None:
        seen.append(frame)
        if len(seen) == 3:
            raise KeyboardInterrupt

    options = BagOptions(parameters=LoadedParameters(fit=FitParameters(weights=str(any_weights), device="cpu")),
                         progress=False)
    with pytest.raises(KeyboardInterrupt):
        process_bag(bag.path, out, options, on_frame=stop_after_three)
    back = read_with_rosbags(out)
    assert back.counts["/bodies"] == 3
    assert read_with_mcap(out)[1]["/bodies"] == 3


def test_an_output_ending_in_mcap_is_one_mcap_file(make_bag, any_weights: Path, tmp_path: Path) -> None:
    bag = make_bag(frames=3)
    out = tmp_path / "fitted.mcap"
    assert _run(bag.path, out, any_weights) == 0
    assert out.is_file() and sorted(p.name for p in tmp_path.iterdir()) == ["fitted.mcap", "in"]
    assert read_with_rosbags(out).counts["/bodies"] == 3
    assert read_with_mcap(out)[1]["/bodies"] == 3
    assert _run(bag.path, out, any_weights) == 1  # exists
    assert _run(bag.path, out, any_weights, "--overwrite") == 0


def test_an_image_bag_goes_through_the_detector(tmp_path: Path) -> None:
    """Real video frames (Sports2D demo, two people) as sensor_msgs/Image + CameraInfo."""
    from lgd_ros.bag.demo import write_video_bag
    from lgd_ros.detect import SampleMediaNotFoundError, find_sports2d_demo_video
    from lgd_ros.fitting.weights import default_weights_path

    try:
        video = find_sports2d_demo_video()
    except SampleMediaNotFoundError as error:
        pytest.skip(str(error))
    if not default_weights_path("blazepose33").is_file():
        pytest.skip(f"needs the shipped weights {default_weights_path('blazepose33')}")
    bag = tmp_path / "video"
    frames, fps, _, (width, height) = write_video_bag(video, bag, width=640, max_frames=4)
    assert (frames, fps, width, height) == (4, 30.0, 640, 360)
    out = tmp_path / "out"
    assert main(["bag", str(bag), str(out), "--no-progress", "--device", "cpu"]) == 0
    back = read_with_rosbags(out, decode=("/bodies",))
    assert back.counts["/camera/image_raw"] == back.counts["/bodies"] == 4
    assert back.log_times["/bodies"] == back.log_times["/camera/image_raw"]
    fitted = [b for m in back.messages["/bodies"] for b in m.bodies if b.fit_status == 0]
    assert fitted and all(m.header.frame_id == "camera_optical_frame" for m in back.messages["/bodies"])
    assert 1.0 < np.median([b.translation.z for b in fitted]) < 30.0  # in front of the camera
