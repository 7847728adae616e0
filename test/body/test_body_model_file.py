"""Every bad model file gives one clear error naming the file and what was expected."""

from __future__ import annotations

import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from lgd_ros.body import (
    BodyModel,
    BodyModelError,
    BodyModelFileError,
    BodyModelFormatError,
    BodyModelNotFoundError,
    default_model_path,
)

from .conftest import random_model_arrays, write_official_style_pkl


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]
    return path


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "SMPL_NEUTRAL.pkl"
    with pytest.raises(BodyModelNotFoundError, match=r"SMPL_NEUTRAL\.pkl does not exist.*"
                                                     r"official SMPL \.pkl"):
        BodyModel.load(path)
    with pytest.raises(BodyModelNotFoundError, match="is a directory"):
        BodyModel.load(tmp_path)


def test_truncated_npz(tmp_path: Path) -> None:
    data = default_model_path().read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(BodyModelFileError, match=r"cut\.npz: cannot read as \.npz.*truncated"):
        BodyModel.load(path)


def test_truncated_pkl(tmp_path: Path, fake_chumpy: type, monkeypatch: pytest.MonkeyPatch)\
        -> None:
    full = tmp_path / "full.pkl"
    write_official_style_pkl(full, random_model_arrays(), fake_chumpy)
    path = tmp_path / "cut.pkl"
    path.write_bytes(full.read_bytes()[:5000])
    with pytest.raises(BodyModelFileError, match=r"cut\.pkl: cannot unpickle.*truncated"):
        BodyModel.load(path)


def test_not_a_model_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(BodyModelFileError, match=r"notes\.txt: neither an \.npz"):
        BodyModel.load(path)


def test_npz_missing_arrays(tmp_path: Path) -> None:
    arrays = random_model_arrays()
    del arrays["J_regressor"], arrays["weights"]
    path = _write_npz(tmp_path / "partial.npz", arrays)
    with pytest.raises(BodyModelFormatError, match=r"partial\.npz: missing J_regressor, weights"):
        BodyModel.load(path)


def test_wrong_shapes(tmp_path: Path) -> None:
    arrays = random_model_arrays()
    arrays["weights"] = arrays["weights"][:, :20]
    path = _write_npz(tmp_path / "bad.npz", arrays)
    with pytest.raises(BodyModelFormatError,
                       match=r"weights has shape \[120, 20\], expected \[120, 24\]"):
        BodyModel.load(path)
    arrays = random_model_arrays()
    arrays["shapedirs"] = arrays["shapedirs"][:, :, :5]
    with pytest.raises(BodyModelFormatError, match="5 shape directions, expected at least 10"):
        BodyModel.load(_write_npz(tmp_path / "few_betas.npz", arrays))


def test_other_skeleton(tmp_path: Path) -> None:
    arrays = random_model_arrays()
    arrays["kintree_table"] = np.stack([np.arange(-1, 54), np.arange(55)])
    with pytest.raises(BodyModelFormatError, match="55 joints, expected SMPL's 24"):
        BodyModel.load(_write_npz(tmp_path / "smplx.npz", arrays))


def test_pickle_with_code_is_refused(tmp_path: Path) -> None:
    class Exploit:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (os.system, ("echo pwned",))

    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v_template": Exploit()}, protocol=2))
    with pytest.raises(BodyModelFileError, match=r"refers to (posix|nt)\.system.*refusing"):
        BodyModel.load(path)


def test_pickle_of_a_list(tmp_path: Path) -> None:
    path = tmp_path / "list.pkl"
    path.write_bytes(pickle.dumps([1, 2, 3], protocol=2))
    with pytest.raises(BodyModelFormatError, match="holds a list, expected a dict"):
        BodyModel.load(path)


def test_errors_share_a_base_class(tmp_path: Path) -> None:
    with pytest.raises(BodyModelError):
        BodyModel.load(tmp_path / "nothing.npz")


def test_zip_that_is_not_npz(tmp_path: Path) -> None:
    path = tmp_path / "archive.npz"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "not an array")
    path.write_bytes(buffer.getvalue())
    with pytest.raises(BodyModelError, match=r"archive\.npz"):
        BodyModel.load(path, dtype=torch.float64)
