"""The benchmarks behind `make bench` still run (tiny sizes: what they print, not the speed)."""

from __future__ import annotations

import pytest

from benchmarks import bench_bag, bench_fitting
from lgd_ros.data import load_pose_corpus


def test_fitting_benchmark_prints_its_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_fitting.main(["--num", "16", "--sequences", "1", "--sequence-length", "3", "--time-repeats", "1",
                               "--baseline-time-repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "| LGD cold, 4 steps | clean |" in out and "| SMPLify-style | occluded |" in out
    assert "| LGD warm, 2 steps | noisy |" in out
    assert "### Per held-out motion" in out and "humanoid3d_roll" in out


def test_cross_check_on_another_source_needs_files_that_never_saw_it() -> None:
    corpus = load_pose_corpus()
    assert bench_fitting.prior_corpus_version(None) == corpus.version  # the shipped prior
    mask = bench_fitting.held_out_source_mask(corpus, "cmu_dm_control", "pose_corpus_v2",
                                              "pose_corpus_v2")
    assert int(mask.sum()) == corpus.counts()["sources"]["cmu_dm_control"]["poses"]
    with pytest.raises(SystemExit, match="the LGD weights record pose_corpus_v3"):
        bench_fitting.held_out_source_mask(corpus, "cmu_dm_control", corpus.version,
                                           "pose_corpus_v2")
    with pytest.raises(SystemExit, match="the pose prior records pose_corpus_v3"):
        bench_fitting.held_out_source_mask(corpus, "cmu_dm_control", "pose_corpus_v2",
                                           corpus.version)
    with pytest.raises(SystemExit, match="no such source.*deepmimic"):
        bench_fitting.held_out_source_mask(corpus, "lafan1", "pose_corpus_v2", "pose_corpus_v2")


def test_bag_benchmark_prints_throughput_and_the_goal(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_bag.main(["--seconds", "3", "--people", "1"]) == 0
    out = capsys.readouterr().out
    assert "| 1 | frame by frame (node order, `--lanes 1`) |" in out and "| 1 | batched (" in out
    assert "Goal: at least 20x real time for one person" in out
