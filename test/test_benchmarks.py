"""The benchmarks behind `make bench` still run (tiny sizes: what they print, not the speed)."""

from __future__ import annotations

import re

import pytest
import torch

from benchmarks import bench_bag, bench_fitting
from lgd_ros.data import load_pose_corpus


def test_fitting_benchmark_prints_its_tables(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_fitting.main(["--num", "16", "--sequences", "1", "--sequence-length", "3", "--time-repeats", "1",
                               "--baseline-time-repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "| LGD cold, 4 steps | clean |" in out and "| SMPLify-style | occluded |" in out
    assert "| LGD warm, 2 steps | noisy |" in out
    # Ratios on the baseline's views carry their bootstrap interval, e.g. "0.79 (0.72-0.85)".
    assert re.search(r"\| LGD cold, 4 steps \| clean \|[^|]*\|[^|]*\| \d\.\d\d \(\d\.\d\d-\d\.\d\d\) \|", out)
    assert "### Per held-out motion" in out and "humanoid3d_roll" in out
    assert "### Per-view PA-MPJPE quantiles" in out and "| SMPLify-style | occluded | " in out
    assert "### Where the error is" in out and "| wrists and hands |" in out


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


def test_train_source_takes_only_that_sources_training_clips() -> None:
    corpus = load_pose_corpus()
    mask = bench_fitting.train_source_mask(corpus, "deepmimic")
    assert int(mask.sum()) == corpus.counts()["sources"]["deepmimic"]["train_poses"]
    assert not bool((mask & corpus.split_mask("val")).any())
    with pytest.raises(SystemExit, match="no training clips.*deepmimic"):
        bench_fitting.train_source_mask(corpus, "lafan1")


def test_bag_benchmark_prints_throughput_and_the_goal(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_bag.main(["--seconds", "3", "--people", "1"]) == 0
    out = capsys.readouterr().out
    assert "| 1 | frame by frame (node order, `--lanes 1`) |" in out and "| 1 | batched (" in out
    assert "Goal: at least 20x real time for one person" in out


def test_ratio_interval_is_paired_over_views() -> None:
    gen = torch.Generator().manual_seed(3)
    theirs = 60.0 + 40.0 * torch.rand(200, generator=gen)
    # A method that is exactly 0.7x the baseline on every view: no doubt about the ratio,
    # however the views vary (an unpaired bootstrap would report a wide interval).
    assert bench_fitting.ratio_interval(0.7 * theirs, theirs) == pytest.approx((0.7, 0.7))
    ours = 0.8 * theirs + 10.0 * torch.randn(200, generator=gen)
    low, high = bench_fitting.ratio_interval(ours, theirs)
    point = float(ours.mean() / theirs.mean())
    assert low < point < high and high - low < 0.1
    with pytest.raises(ValueError, match="equal non-empty"):
        bench_fitting.ratio_interval(ours[:10], theirs)
