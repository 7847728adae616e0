"""The `lgd-ros` command: every subcommand answers --help."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lgd_ros.cli import build_parser, main


def test_top_level_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for name in ("demo", "bag", "train", "export", "detect", "live-demo"):
        assert name in out


@pytest.mark.parametrize("command", ["demo", "bag", "train", "export", "detect", "live-demo"])
def test_subcommand_help(command: str) -> None:
    done = subprocess.run([sys.executable, "-m", "lgd_ros.cli", command, "--help"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "usage" in done.stdout.lower()


def test_unknown_subcommand_is_an_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["fly"])
    assert exit_info.value.code == 2
