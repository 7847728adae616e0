"""The node's parameters file, read without ROS (lgd_ros.bag.params)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lgd_ros.bag.errors import ParamsFileError
from lgd_ros.bag.params import (
    NODE_ONLY_PARAMETERS,
    FitParameters,
    load_params_file,
    parameters_from_mapping,
    pipeline_config,
)
from lgd_ros.tracking.pipeline import PipelineConfig
from lgd_ros.tracking.tracker import TrackerConfig

REPO = Path(__file__).resolve().parents[2]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(text)
    return path


def test_the_shipped_parameters_file_gives_the_defaults() -> None:
    loaded = load_params_file(REPO / "config" / "fit.yaml")
    assert loaded.warnings == (), "config/fit.yaml has parameters the bag tool does not know"
    assert loaded.fit == FitParameters()
    assert pipeline_config(loaded.fit) == PipelineConfig()


def test_the_mapping_is_the_nodes(tmp_path: Path) -> None:
    path = _write(tmp_path, """
/**:
  ros__parameters:
    fit_steps: 6
    warm_fit_steps: 0
    weights: /models/w.pt
    track_max_age_s: 2
    track_match_threshold: 0.4
    warm_start_max_gap_s: 0.25
    max_people: 3
    device: cpu
    torch_threads: 2
""")
    config = pipeline_config(load_params_file(path).fit)
    assert config == PipelineConfig(
        weights="/models/w.pt", body_model_path=None, device="cpu", steps=6, warm_steps=None,
        max_people=3, torch_threads=2, tracker=TrackerConfig(max_age=2.0, match_threshold=0.4, warm_start_max_gap=0.25))


def test_node_block_overrides_the_wildcard_in_file_order_and_namespaces_match(tmp_path: Path) -> None:
    path = _write(tmp_path, """
/**:
  ros__parameters:
    fit_steps: 3
    max_people: 2
robot1:
  lgd_fit_node:
    ros__parameters:
      fit_steps: 5
other_node:
  ros__parameters:
    max_people: 9
""")
    fit = load_params_file(path).fit
    assert (fit.fit_steps, fit.max_people) == (5, 2)
    assert load_params_file(path, node_name="other_node").fit.max_people == 9


def test_detector_parameters_nested_or_dotted(tmp_path: Path) -> None:
    path = _write(tmp_path, """
lgd_fit_node:
  ros__parameters:
    detector:
      max_people: 2
      track_across_frames: true
    detector.min_presence_score: 0.6
""")
    loaded = load_params_file(path)
    assert loaded.detector == {"max_people": 2, "track_across_frames": True, "min_presence_score": 0.6}


@pytest.mark.parametrize(("line", "match"), [
    ("fit_steps: 2.5", "'fit_steps' must be of type int, got 2.5"),
    ("publish_tf: 1", "'publish_tf' must be of type bool"),
    ("device: 3", "'device' must be of type str"),
    ("max_people: 0", "max_people must be >= 1"),
    ("detector.max_people: 99", "bad detector.\\* parameter"),
])
def test_bad_values_name_the_file_and_the_parameter(tmp_path: Path, line: str, match: str) -> None:
    path = _write(tmp_path, f"/**:\n  ros__parameters:\n    {line}\n")
    with pytest.raises(ParamsFileError, match=match) as error:
        load_params_file(path)
    assert str(path) in str(error.value)


def test_unknown_names_are_warnings_node_only_names_are_silent(tmp_path: Path) -> None:
    path = _write(tmp_path, "/**:\n  ros__parameters:\n    fit_stpes: 4\n    output_qos_depth: 5\n")
    loaded = load_params_file(path)
    assert len(loaded.warnings) == 1 and "'fit_stpes'" in loaded.warnings[0]
    assert "output_qos_depth" in NODE_ONLY_PARAMETERS


@pytest.mark.parametrize(("text", "match"), [
    (None, "cannot read parameters file"),
    ("a: [1, 2", "not valid YAML"),
    ("- 1\n- 2\n", "expected a mapping"),
    ("talker:\n  ros__parameters:\n    x: 1\n", "no 'ros__parameters' block for node 'lgd_fit_node'.*/talker"),
])
def test_unusable_files(tmp_path: Path, text: str | None, match: str) -> None:
    path = tmp_path / "params.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(ParamsFileError, match=match):
        load_params_file(path)


def test_the_bag_tool_reads_the_nodes_own_parameter_set() -> None:
    """No drift from the node: both use lgd_ros.tracking.parameters.FitParameters."""
    pytest.importorskip("rclpy", reason="rclpy is not installed (make test installs it)")
    pytest.importorskip("lgd_ros.msg", reason="lgd_ros messages not built (make msgs)")
    from lgd_ros.ros import fit_node

    assert fit_node.FitParameters is FitParameters
    node_defaults = {f.name: f.default for f in dataclasses.fields(FitParameters)}
    assert parameters_from_mapping(node_defaults).fit == FitParameters()
