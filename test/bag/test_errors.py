"""Bad inputs and outputs: one clear line and a non-zero exit for fatal problems, counted
and reported messages for undecodable ones, and never a broken or clobbered output."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from lgd_ros.bag.cli import main

from .helpers import read_with_mcap, read_with_rosbags, rewrite_bag


def _run(bag: Path, out: Path, weights: Path, *extra: str) -> int:
    return main(["bag", str(bag), str(out), "--weights", str(weights), "--device", "cpu",
                 "--no-progress", *extra])


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("lgd-ros bag: error: ")
    return lines[0]


def _mcap_of(bag: Path) -> Path:
    (file,) = bag.glob("*.mcap")
    return file


# ------------------------------------------------------------------------- output path
def test_existing_output_is_refused_without_overwrite(make_bag, any_weights: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    bag = make_bag(frames=3)
    out = tmp_path / "out"
    assert _run(bag.path, out, any_weights) == 0
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    capsys.readouterr()
    assert _run(bag.path, out, any_weights) == 1
    assert "exists; pass --overwrite" in _error_line(capsys)
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    assert _run(bag.path, out, any_weights, "--overwrite") == 0
    assert read_with_rosbags(out).counts["/bodies"] == 3


@pytest.mark.parametrize("kind", ["foreign directory", "file", "the input"])
def test_overwrite_never_deletes_what_is_not_an_output_bag(kind: str, make_bag, any_weights: Path,
                                                           tmp_path: Path, capsys) -> None:
    bag = make_bag(frames=2)
    out = {"foreign directory": tmp_path / "notes", "file": tmp_path / "notes.txt",
           "the input": bag.path}[kind]
    if kind == "foreign directory":
        out.mkdir()
        (out / "thesis.tex").write_text("precious")
    elif kind == "file":
        out.write_text("precious")
    assert _run(bag.path, out, any_weights, "--overwrite") == 1
    assert "not deleting" in _error_line(capsys) or kind == "the input"
    assert out.exists()
    if kind == "foreign directory":
        assert (out / "thesis.tex").read_text() == "precious"


# -------------------------------------------------------------------------- bad inputs
def test_truncated_mcap_is_reported_and_salvaged_on_request(make_bag, any_weights: Path, tmp_path: Path,
                                                            capsys) -> None:
    source = make_bag(frames=6)
    bag = tmp_path / "padded"  # ~0.5 MB per frame: several MCAP chunks
    rewrite_bag(source.path, bag, padding_bytes=500_000)
    file = _mcap_of(bag)
    data = file.read_bytes()
    file.write_bytes(data[: len(data) * 2 // 3])  # a recorder killed mid-write
    out = tmp_path / "out"
    assert _run(bag, out, any_weights) == 1
    line = _error_line(capsys)
    assert "truncated" in line and "--salvage" in line and f"{bag} ({file.name})" in line
    assert not out.exists()

    assert _run(bag, out, any_weights, "--salvage") == 0
    printed = capsys.readouterr().out
    assert "salvaged" in printed
    salvaged = read_with_rosbags(out).counts["/bodies"]
    assert 0 < salvaged < 6
    assert read_with_mcap(out)[1]["/bodies"] == salvaged


@pytest.mark.parametrize(("name", "expected"), [
    ("random.mcap", "this is not an MCAP file"),
    ("random.db3", "not a rosbag2 database or is corrupt"),
    ("random.bag", "expected a rosbag2 directory or a .mcap / .db3 file"),
    ("missing.mcap", "does not exist"),
])
def test_files_that_are_not_bags(name: str, expected: str, any_weights: Path, tmp_path: Path, capsys) -> None:
    path = tmp_path / name
    if not name.startswith("missing"):
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    assert _run(path, tmp_path / "out", any_weights) == 1
    line = _error_line(capsys)
    assert expected in line and str(path) in line


def test_bag_directory_with_damaged_metadata(make_bag, any_weights: Path, tmp_path: Path, capsys) -> None:
    bag = make_bag(frames=2)
    (bag.path / "metadata.yaml").write_text("rosbag2_bagfile_information: [unbalanced")
    assert _run(bag.path, tmp_path / "out", any_weights) == 1
    assert "metadata.yaml" in _error_line(capsys)


def test_directory_without_metadata_is_read_through_its_storage_file(make_bag, any_weights: Path,
                                                                     tmp_path: Path, capsys) -> None:
    bag = make_bag(frames=3)
    (bag.path / "metadata.yaml").unlink()  # ros2 bag record writes it last
    out = tmp_path / "out"
    assert _run(bag.path, out, any_weights) == 0
    assert "no metadata.yaml" in capsys.readouterr().out
    assert read_with_rosbags(out).counts["/bodies"] == 3


def test_corruption_in_the_middle_stops_with_a_valid_partial_output(make_bag, any_weights: Path,
                                                                     tmp_path: Path, capsys) -> None:
    from mcap.reader import make_reader

    source = make_bag(frames=8)
    bag = tmp_path / "padded"
    rewrite_bag(source.path, bag, padding_bytes=400_000)
    file = _mcap_of(bag)
    with file.open("rb") as stream:
        chunks = sorted(make_reader(stream).get_summary().chunk_indexes, key=lambda c: c.chunk_start_offset)
    assert len(chunks) >= 3
    middle = chunks[len(chunks) // 2]
    data = bytearray(file.read_bytes())
    # The chunk's first record (after opcode, length and 40 bytes of chunk header; no
    # compression): make its length point far beyond the chunk, as a bad sector would.
    records = middle.chunk_start_offset + 9 + 40
    data[records + 1:records + 9] = b"\xff" * 8
    file.write_bytes(bytes(data))
    out = tmp_path / "out"
    assert _run(bag, out, any_weights) == 1
    line = _error_line(capsys)
    assert "is corrupt or truncated after" in line and "output so far" in line
    fitted = read_with_rosbags(out).counts["/bodies"]
    assert 0 < fitted < 8
    assert read_with_mcap(out)[1]["/bodies"] == fitted


# ---------------------------------------------------------------------------- topics
@pytest.mark.parametrize(("drop", "option", "expected"), [
    (("/camera_info",), (), "has no sensor_msgs/msg/CameraInfo topic; its topics: /keypoints"),
    (("/keypoints",), (), "has no keypoints (lgd_ros/msg/PersonKeypointsArray) or image"),
    ((), ("--keypoints-topic", "/people"), "has no topic /people (given by --keypoints-topic)"),
    ((), ("--image-topic", "/keypoints"), "topic /keypoints in"),
])
def test_missing_or_wrong_topics(drop: tuple[str, ...], option: tuple[str, ...], expected: str, make_bag,
                                 any_weights: Path, tmp_path: Path, capsys) -> None:
    source = make_bag(frames=2)
    bag = tmp_path / "edited"
    rewrite_bag(source.path, bag, drop_topics=drop)
    assert _run(bag, tmp_path / "out", any_weights, *option) == 1
    assert expected in _error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_undecodable_messages_are_counted_and_skipped(make_bag, any_weights: Path, tmp_path: Path,
                                                      capsys) -> None:
    source = make_bag(frames=7)
    bag = tmp_path / "garbled"
    rewrite_bag(source.path, bag, garbage={"/keypoints": {2, 5}, "/camera_info": {3}}, storage="sqlite3")
    out = tmp_path / "out"
    assert _run(bag, out, any_weights) == 0
    printed = capsys.readouterr().out
    assert "3 messages did not decode (/camera_info 1, /keypoints 2)" in printed
    back = read_with_rosbags(out)
    assert back.counts["/bodies"] == 5
    assert back.counts["/keypoints"] == 7  # the input is copied as recorded


# ----------------------------------------------------------------- fitting set-up errors
def test_missing_weights_stop_before_any_output(make_bag, tmp_path: Path, capsys) -> None:
    bag = make_bag(frames=2)
    assert _run(bag.path, tmp_path / "out", tmp_path / "nowhere.pt") == 1
    line = _error_line(capsys)
    assert "weights file not found" in line and "nowhere.pt" in line
    assert not (tmp_path / "out").exists()


def test_bad_parameters_file(make_bag, any_weights: Path, tmp_path: Path, capsys) -> None:
    bag = make_bag(frames=2)
    params = tmp_path / "fit.yaml"
    params.write_text("/**:\n  ros__parameters:\n    max_people: many\n")
    assert _run(bag.path, tmp_path / "out", any_weights, "--params-file", str(params)) == 1
    line = _error_line(capsys)
    assert "'max_people' must be of type int" in line and str(params) in line


def test_copy_of_a_bag_is_unchanged_by_reading(make_bag, any_weights: Path, tmp_path: Path) -> None:
    bag = make_bag(frames=2)
    before = {p.name: p.read_bytes() for p in bag.path.iterdir()}
    assert _run(bag.path, tmp_path / "out", any_weights) == 0
    assert {p.name: p.read_bytes() for p in bag.path.iterdir()} == before
    shutil.rmtree(tmp_path / "out")


# ------------------------------------------------------------------------------ camera
def test_frames_before_the_first_camera_info_use_it(make_bag, any_weights: Path, tmp_path: Path, capsys) -> None:
    source = make_bag(frames=6)
    bag = tmp_path / "late_camera"
    rewrite_bag(source.path, bag, skip={"/camera_info": {0, 1, 2}})
    out = tmp_path / "out"
    assert _run(bag, out, any_weights) == 0
    assert "3 frames came before the first CameraInfo" in capsys.readouterr().out
    assert read_with_rosbags(out).counts["/bodies"] == 6


def test_no_usable_camera_info_is_fatal(any_weights: Path, tmp_path: Path, capsys) -> None:
    """An uncalibrated camera (all-zero K) cannot be fitted with."""
    from rosbags.rosbag2 import StoragePlugin, Writer

    from lgd_ros.bag.messages import InputMessageFactory
    from lgd_ros.bag.typestore import PERSON_KEYPOINTS_ARRAY, output_typestore

    store = output_typestore()
    factory = InputMessageFactory(store)
    bag = tmp_path / "uncalibrated"
    with Writer(bag, version=9, storage_plugin=StoragePlugin.MCAP) as writer:
        info = writer.add_connection("/camera_info", "sensor_msgs/msg/CameraInfo", typestore=store)
        people = writer.add_connection("/keypoints", PERSON_KEYPOINTS_ARRAY, typestore=store)
        header = factory.header(10**9, "cam")
        writer.write(info, 10**9, store.serialize_cdr(factory.camera_info(header, np.zeros((3, 3)), 640, 480),
                                                      "sensor_msgs/msg/CameraInfo"))
        writer.write(people, 10**9, store.serialize_cdr(factory.keypoints_array(header, []), PERSON_KEYPOINTS_ARRAY))
    assert _run(bag, tmp_path / "out", any_weights) == 1
    line = _error_line(capsys)
    assert "no usable CameraInfo on /camera_info" in line and "uncalibrated" in line
