"""Tests of lgd_ros.body."""
