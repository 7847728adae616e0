"""Shared fixtures of the body-model tests: small random SMPL-layout models, smplx twins of
them, and official-style SMPL pickles written without chumpy installed."""

from __future__ import annotations

import pickle
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import scipy.sparse
import torch

from lgd_ros.body.skeleton import NUM_JOINTS, SMPL_PARENTS

SMPLX_VERTEX_ID_KEYS = (
    "nose", "reye", "leye", "rear", "lear", "rthumb", "rindex", "rmiddle", "rring", "rpinky",
    "lthumb", "lindex", "lmiddle", "lring", "lpinky", "LBigToe", "LSmallToe", "LHeel",
    "RBigToe", "RSmallToe", "RHeel",
)


def random_model_arrays(num_vertices: int = 120, seed: int = 0, num_betas: int = 10,
                        with_posedirs: bool = True) -> dict[str, np.ndarray]:
    """SMPL-named arrays of a random but well-formed model (vertices near their joints)."""
    rng = np.random.default_rng(seed)
    joints = rng.normal(size=(NUM_JOINTS, 3)) * 0.3
    owner = rng.integers(0, NUM_JOINTS, num_vertices)
    v_template = joints[owner] + rng.normal(size=(num_vertices, 3)) * 0.05
    weights = rng.random((num_vertices, NUM_JOINTS)) ** 6
    weights[np.arange(num_vertices), owner] += 1.0
    weights /= weights.sum(axis=1, keepdims=True)
    regressor = rng.random((NUM_JOINTS, num_vertices)) * (owner[None, :] == np.arange(NUM_JOINTS)[:, None])
    regressor += 1e-3
    regressor /= regressor.sum(axis=1, keepdims=True)
    arrays = {
        "v_template": v_template,
        "shapedirs": rng.normal(size=(num_vertices, 3, num_betas)) * 0.01,
        "J_regressor": regressor,
        "weights": weights,
        "kintree_table": np.stack([np.array(SMPL_PARENTS), np.arange(NUM_JOINTS)]),
        "f": rng.integers(0, num_vertices, (2 * num_vertices, 3)),
    }
    if with_posedirs:
        arrays["posedirs"] = rng.normal(size=(num_vertices, 3, 207)) * 0.005
    return arrays


def smplx_model(arrays: dict[str, np.ndarray], dtype: torch.dtype = torch.float64) -> Any:
    """``smplx.SMPL`` built from the same arrays through its ``data_struct`` path."""
    import smplx

    num_vertices = arrays["v_template"].shape[0]
    posedirs = arrays.get("posedirs", np.zeros((num_vertices, 3, 207)))
    data = SimpleNamespace(**{**arrays, "posedirs": posedirs})
    vertex_ids = {key: i % num_vertices for i, key in enumerate(SMPLX_VERTEX_ID_KEYS)}
    return smplx.SMPL(model_path="unused", data_struct=data, dtype=dtype, vertex_ids=vertex_ids,
                      num_betas=10)


def smplx_forward(model: Any, pose: torch.Tensor, betas: torch.Tensor,
                  transl: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    output = model(global_orient=pose[:, :3], body_pose=pose[:, 3:], betas=betas, transl=transl)
    return output.vertices, output.joints[:, :NUM_JOINTS]


class _FakeChumpyCh:
    """Pickles like ``chumpy.ch.Ch`` (an object whose state dict holds the array as ``x``)
    and reads back like it for smplx (``np.array(ch)``, ``ch.shape``, slicing)."""

    def __init__(self, x: np.ndarray) -> None:
        self.x = x
        self._dirty_vars: set[str] = set()
        self._itr = None
        self._depends_on_deps: dict[str, Any] = {}
        self._make_dense = False
        self._make_sparse = False

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        array: np.ndarray = np.asarray(self.x, dtype=dtype)
        return array

    @property
    def shape(self) -> tuple[int, ...]:
        return self.x.shape

    def __getitem__(self, index: Any) -> np.ndarray:
        item: np.ndarray = self.x[index]
        return item


@pytest.fixture
def fake_chumpy(monkeypatch: pytest.MonkeyPatch) -> Iterator[type]:
    """A stand-in ``chumpy.ch`` module, importable only while the fixture is active."""
    package = types.ModuleType("chumpy")
    module = types.ModuleType("chumpy.ch")
    _FakeChumpyCh.__module__ = "chumpy.ch"
    _FakeChumpyCh.__qualname__ = "Ch"
    _FakeChumpyCh.__name__ = "Ch"
    module.Ch = _FakeChumpyCh  # type: ignore[attr-defined]
    package.ch = module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "chumpy", package)
    monkeypatch.setitem(sys.modules, "chumpy.ch", module)
    yield _FakeChumpyCh


def write_official_style_pkl(path: Path, arrays: dict[str, np.ndarray], chumpy_class: type,
                             *, legacy_numpy_path: bool = True) -> None:
    """Write arrays the way the official SMPL ``.pkl`` files hold them: chumpy objects for the
    dense arrays, a scipy csc matrix for the joint regressor, protocol 2, plus extra keys."""
    content: dict[str, Any] = {
        "v_template": chumpy_class(arrays["v_template"]),
        "shapedirs": chumpy_class(arrays["shapedirs"]),
        "posedirs": chumpy_class(arrays["posedirs"]) if "posedirs" in arrays else None,
        "weights": chumpy_class(arrays["weights"]),
        "J_regressor": scipy.sparse.csc_matrix(arrays["J_regressor"]),
        # SMPL stores the root's parent as uint32(-1).
        "kintree_table": np.where(arrays["kintree_table"] < 0, 2**32 - 1,
                                  arrays["kintree_table"]).astype(np.uint32),
        "f": arrays["f"].astype(np.uint32),
        "J": chumpy_class(arrays["J_regressor"] @ arrays["v_template"]),
        "bs_style": "lbs",
        "bs_type": "lrotmin",
        "pose_training_info": {"num_poses": 1786},
    }
    if content["posedirs"] is None:
        del content["posedirs"]
    data = pickle.dumps(content, protocol=2)
    if legacy_numpy_path:  # as written by numpy 1.x / Python 2
        data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    path.write_bytes(data)


@pytest.fixture(scope="session")
def default_model_f64() -> Any:
    from lgd_ros.body import BodyModel

    return BodyModel.load(dtype=torch.float64)


def random_parameters(batch: int, dtype: torch.dtype = torch.float64, seed: int = 0,
                      scale: float = 0.5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    pose = torch.randn(batch, 72, generator=generator, dtype=dtype) * scale
    betas = torch.randn(batch, 10, generator=generator, dtype=dtype)
    transl = torch.randn(batch, 3, generator=generator, dtype=dtype)
    return pose, betas, transl
