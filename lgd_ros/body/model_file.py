"""Reading and writing SMPL-layout body model files (``.npz`` and official SMPL ``.pkl``).

The official SMPL ``.pkl`` files are Python 2 pickles holding ``chumpy`` objects and a
``scipy.sparse`` joint regressor. They are read here by a restricted unpickler that maps
those classes to small stand-ins and turns them into numpy arrays, so neither chumpy nor
scipy is needed, and that refuses every other class, so a pickle cannot run code.

Arrays (SMPL's own key names, shared by ``.pkl`` and ``.npz``):

=================  ================  ================================================
key                shape             meaning
=================  ================  ================================================
v_template         [V, 3]            rest (T-pose) vertices, metres
shapedirs          [V, 3, >=10]      shape blend shapes (first 10 used)
posedirs           [V, 3, 207]       pose-corrective blend shapes (optional: zeros)
J_regressor        [24, V]           rest joints = J_regressor @ vertices
weights            [V, 24]           skinning weights
kintree_table      [2, 24]           row 0: parent of each joint (root: -1 or 2^32-1)
f                  [F, 3]            triangles (vertex indices)
landmark_names     [L]               optional surface landmarks (see ``formats``) ...
landmark_vertex_ids      [L, M]      ... as vertex ids ...
landmark_vertex_weights  [L, M]      ... and weights (rows sum to 1)
name               []                optional model name
=================  ================  ================================================
"""

from __future__ import annotations

import hashlib
import importlib
import pickle
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from lgd_ros.body.errors import (
    BodyModelFileError,
    BodyModelFormatError,
    BodyModelNotFoundError,
)
from lgd_ros.body.formats import LANDMARK_NAMES
from lgd_ros.body.skeleton import NUM_BETAS, NUM_JOINTS, SMPL_PARENTS

__all__ = ["SMPL_LANDMARK_VERTEX_IDS", "BodyModelArrays", "read_model_file"]

NUM_POSE_BASIS = 9 * (NUM_JOINTS - 1)  # (R - I) of the 23 non-root joints, flattened: 207

REQUIRED_KEYS = ("v_template", "shapedirs", "J_regressor", "weights", "kintree_table", "f")
_EXPECTED = (
    "an SMPL-layout body model: an official SMPL .pkl (any gender) or an .npz with arrays "
    + ", ".join(REQUIRED_KEYS)
    + " (posedirs optional)"
)

SMPL_LANDMARK_VERTEX_IDS: dict[str, int] = {
    "nose": 332,
    "left_eye": 2800,
    "right_eye": 6260,
    "left_ear": 583,
    "right_ear": 4071,
    "left_big_toe": 3216,
    "left_small_toe": 3226,
    "left_heel": 3387,
    "right_big_toe": 6617,
    "right_small_toe": 6624,
    "right_heel": 6787,
}
"""Vertex ids of surface landmarks on the official 6890-vertex SMPL mesh (the ids that
``smplx`` uses for its extra joints), used when an official file is loaded."""

SMPL_NUM_VERTICES = 6890


@dataclass(frozen=True)
class BodyModelArrays:
    """Validated model arrays in float64 (what :class:`~lgd_ros.body.model.BodyModel` is made of).

    ``landmark_vertex_ids``/``landmark_vertex_weights`` are ``[L, M]`` (pad with weight 0).
    """

    name: str
    v_template: np.ndarray  # [V, 3]
    shapedirs: np.ndarray  # [V, 3, 10]
    posedirs: np.ndarray | None  # [V, 3, 207] or None when all zero
    J_regressor: np.ndarray
    weights: np.ndarray  # [V, 24]
    faces: np.ndarray  # [F, 3] int64
    landmark_names: tuple[str, ...] = ()
    landmark_vertex_ids: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), np.int64))
    landmark_vertex_weights: np.ndarray = field(
        default_factory=lambda: np.zeros((0, 1), np.float64)
    )
    source: str = ""

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def fingerprint(self) -> str:
        """sha256 hex over the arrays that determine the model's output.

        Computed on float32 little-endian copies so a model loaded in float32 or float64, or
        converted from ``.pkl`` to ``.npz``, keeps its fingerprint; all-zero ``posedirs`` are
        treated as absent.
        """
        digest = hashlib.sha256()
        for label, array, dtype in (
            ("v_template", self.v_template, "<f4"),
            ("shapedirs", self.shapedirs, "<f4"),
            ("posedirs", self.posedirs, "<f4"),
            ("J_regressor", self.J_regressor, "<f4"),
            ("weights", self.weights, "<f4"),
            ("parents", np.asarray(SMPL_PARENTS), "<i8"),
            ("faces", self.faces, "<i8"),
            ("landmark_names", np.asarray(self.landmark_names, dtype="U32"), "<U32"),
            ("landmark_vertex_ids", self.landmark_vertex_ids, "<i8"),
            ("landmark_vertex_weights", self.landmark_vertex_weights, "<f4"),
        ):
            digest.update(label.encode())
            if array is None:
                digest.update(b"none")
                continue
            canonical = np.ascontiguousarray(array, dtype=dtype)
            digest.update(str(canonical.shape).encode())
            digest.update(canonical.tobytes())
        return digest.hexdigest()

    def save_npz(self, path: str | Path, *, float_dtype: type = np.float32) -> None:
        """Write a compressed ``.npz`` that :func:`read_model_file` reads back.

        float32 is ample for metres (sub-micrometre resolution) and halves the file size.
        """
        arrays: dict[str, np.ndarray] = {
            "v_template": self.v_template.astype(float_dtype),
            "shapedirs": self.shapedirs.astype(float_dtype),
            "J_regressor": self.J_regressor.astype(float_dtype),
            "weights": self.weights.astype(float_dtype),
            "kintree_table": np.stack(
                [np.asarray(SMPL_PARENTS, np.int32), np.arange(NUM_JOINTS, dtype=np.int32)]
            ),
            "f": self.faces.astype(np.int32),
            "name": np.asarray(self.name),
        }
        if self.posedirs is not None:
            arrays["posedirs"] = self.posedirs.astype(float_dtype)
        if self.landmark_names:
            arrays["landmark_names"] = np.asarray(self.landmark_names)
            arrays["landmark_vertex_ids"] = self.landmark_vertex_ids.astype(np.int32)
            arrays["landmark_vertex_weights"] = self.landmark_vertex_weights.astype(float_dtype)
        np.savez_compressed(Path(path), **arrays)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------
# chumpy-free, code-free unpickling of the official SMPL files


class _ChumpyStandIn:
    """Takes the place of any chumpy class; keeps the pickled attribute dict."""

    state: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state = {}

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {"state": state}


class _SparseStandIn:
    """Takes the place of a ``scipy.sparse`` matrix class; densified by ``_to_array``."""

    sparse_format = ""
    state: dict[str, Any]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.state = {}

    def __setstate__(self, state: Any) -> None:
        self.state = state if isinstance(state, dict) else {}


def _sparse_stand_in(name: str) -> type:
    fmt = name.split("_")[0][:3]  # csc_matrix -> csc, csr_array -> csr, coo_matrix -> coo
    return type(f"_Sparse_{fmt}", (_SparseStandIn,), {"sparse_format": fmt})


_NUMPY_ALLOWED = {
    ("multiarray", "_reconstruct"),
    ("multiarray", "scalar"),
    ("numeric", "_frombuffer"),
    ("", "ndarray"),
    ("", "dtype"),
}
_BUILTINS_ALLOWED = {"object", "set", "frozenset", "list", "dict", "tuple", "int", "float",
                     "complex", "bytearray", "bytes", "str", "bool", "slice"}


class _SmplUnpickler(pickle.Unpickler):
    """Unpickler restricted to numpy arrays, builtin containers, chumpy and scipy.sparse."""

    def __init__(self, file: BinaryIO, path: Path) -> None:
        super().__init__(file, encoding="latin1")  # Python 2 pickles store arrays as str
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        if module == "chumpy" or module.startswith("chumpy."):
            return _ChumpyStandIn
        if module.startswith("scipy.sparse"):
            return _sparse_stand_in(name)
        if module in ("copy_reg", "copyreg") and name == "_reconstructor":
            import copyreg

            return copyreg._reconstructor  # type: ignore[attr-defined]
        if module == "_codecs" and name == "encode":  # bytes in protocol-2 pickles by Python 3
            import codecs

            return codecs.encode
        if module in ("builtins", "__builtin__") and name in _BUILTINS_ALLOWED:
            return super().find_class("builtins", name)
        if module == "numpy" or module.startswith(("numpy.core", "numpy._core")):
            submodule = module.rsplit(".", 1)[-1] if module != "numpy" else ""
            if (submodule, name) in _NUMPY_ALLOWED:
                real_module = "numpy" if not submodule else f"numpy._core.{submodule}"
                return getattr(importlib.import_module(real_module), name)
        raise BodyModelFileError(
            f"{self._path}: the pickle refers to {module}.{name}, which an SMPL model file "
            f"does not contain; refusing to load it. Expected {_EXPECTED}."
        )


def _sparse_to_dense(stand_in: _SparseStandIn, key: str, path: Path) -> np.ndarray:
    state = stand_in.state
    shape: Any = state.get("_shape", state.get("shape"))
    try:
        rows, cols = (int(s) for s in shape)  # TypeError if missing
        data = np.asarray(state["data"], dtype=np.float64)
        dense = np.zeros((rows, cols), dtype=np.float64)
        if stand_in.sparse_format in ("csc", "csr"):
            indices = np.asarray(state["indices"], dtype=np.int64)
            indptr = np.asarray(state["indptr"], dtype=np.int64)
            outer = np.repeat(np.arange(len(indptr) - 1), np.diff(indptr))
            if stand_in.sparse_format == "csc":
                np.add.at(dense, (indices, outer), data)
            else:
                np.add.at(dense, (outer, indices), data)
        elif stand_in.sparse_format == "coo":
            row = np.asarray(state["row"], dtype=np.int64)
            col = np.asarray(state["col"], dtype=np.int64)
            np.add.at(dense, (row, col), data)
        else:
            raise KeyError(stand_in.sparse_format)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise BodyModelFormatError(
            f"{path}: {key} is a scipy sparse matrix that could not be read ({error!r}); "
            f"expected a csc/csr/coo matrix"
        ) from error
    return dense


def _to_array(value: Any, key: str, path: Path) -> np.ndarray:
    """numpy array from an ndarray, a chumpy stand-in (its ``x``) or a sparse stand-in."""
    if isinstance(value, _ChumpyStandIn):
        if "x" not in value.state:
            raise BodyModelFormatError(
                f"{path}: {key} is a derived chumpy expression, not a stored array; expected "
                f"plain arrays as in the official SMPL files"
            )
        value = value.state["x"]
    if isinstance(value, _SparseStandIn):
        return _sparse_to_dense(value, key, path)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as error:
        raise BodyModelFormatError(f"{path}: {key} is not an array ({type(value).__name__})") \
            from error
    if array.dtype == object:
        raise BodyModelFormatError(f"{path}: {key} is not a numeric array")
    return array


def _read_pkl(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            content = _SmplUnpickler(file, path).load()
    except BodyModelFileError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError, UnicodeDecodeError, MemoryError) as error:
        raise BodyModelFileError(
            f"{path}: cannot unpickle ({type(error).__name__}: {error}); the file is "
            f"truncated, corrupt or not a model file. Expected {_EXPECTED}."
        ) from error
    if not isinstance(content, dict):
        raise BodyModelFormatError(
            f"{path}: the pickle holds a {type(content).__name__}, expected a dict of arrays "
            f"({_EXPECTED})"
        )
    return content


def _read_npz(path: Path) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as error:
        raise BodyModelFileError(
            f"{path}: cannot read as .npz ({type(error).__name__}: {error}); the file is "
            f"truncated, corrupt or not an .npz archive. Expected {_EXPECTED}."
        ) from error


def _expect_shape(path: Path, key: str, array: np.ndarray, expected: tuple[int | None, ...],
                  meaning: str) -> None:
    ok = array.ndim == len(expected) and all(
        e is None or e == s for e, s in zip(expected, array.shape, strict=True)
    )
    if not ok:
        shown = "[" + ", ".join("*" if e is None else str(e) for e in expected) + "]"
        raise BodyModelFormatError(
            f"{path}: {key} has shape {list(array.shape)}, expected {shown} ({meaning})"
        )


def _parents_from_kintree(path: Path, kintree: np.ndarray) -> tuple[int, ...]:
    if kintree.ndim != 2 or kintree.shape[0] != 2:
        raise BodyModelFormatError(
            f"{path}: kintree_table has shape {list(kintree.shape)}, expected [2, 24]"
        )
    if kintree.shape[1] != NUM_JOINTS:
        raise BodyModelFormatError(
            f"{path}: the model has {kintree.shape[1]} joints, expected SMPL's {NUM_JOINTS} "
            f"(SMPL-H / SMPL-X / MANO files are not supported)"
        )
    raw = kintree[0].astype(np.int64)
    parents = tuple(int(p) if 0 <= p < NUM_JOINTS else -1 for p in raw)
    if parents != SMPL_PARENTS:
        raise BodyModelFormatError(
            f"{path}: kintree_table parents {list(parents)} differ from SMPL's tree "
            f"{list(SMPL_PARENTS)}"
        )
    return parents


def arrays_from_mapping(content: dict[str, Any], path: Path, name: str) -> BodyModelArrays:
    """Validate a mapping of SMPL-named arrays (from a file or from memory)."""
    missing = [key for key in REQUIRED_KEYS if key not in content]
    if missing:
        present = ", ".join(sorted(str(k) for k in content)) or "nothing"
        raise BodyModelFormatError(
            f"{path}: missing {', '.join(missing)}; found {present}. Expected {_EXPECTED}."
        )
    arrays = {key: _to_array(content[key], key, path) for key in REQUIRED_KEYS}
    _parents_from_kintree(path, arrays["kintree_table"])
    v_template = arrays["v_template"].astype(np.float64)
    _expect_shape(path, "v_template", v_template, (None, 3), "vertices x xyz")
    num_vertices = v_template.shape[0]
    shapedirs = arrays["shapedirs"].astype(np.float64)
    _expect_shape(path, "shapedirs", shapedirs, (num_vertices, 3, None), "vertices x xyz x betas")
    if shapedirs.shape[2] < NUM_BETAS:
        raise BodyModelFormatError(
            f"{path}: shapedirs has {shapedirs.shape[2]} shape directions, expected at least "
            f"{NUM_BETAS}"
        )
    j_regressor = arrays["J_regressor"].astype(np.float64)
    _expect_shape(path, "J_regressor", j_regressor, (NUM_JOINTS, num_vertices), "joints x vertices")
    weights = arrays["weights"].astype(np.float64)
    _expect_shape(path, "weights", weights, (num_vertices, NUM_JOINTS), "vertices x joints")
    faces = arrays["f"].astype(np.int64)
    _expect_shape(path, "f", faces, (None, 3), "triangles x 3 vertex ids")
    if faces.size and (faces.min() < 0 or faces.max() >= num_vertices):
        raise BodyModelFormatError(
            f"{path}: f holds vertex ids in [{faces.min()}, {faces.max()}], expected [0, "
            f"{num_vertices - 1}]"
        )
    posedirs: np.ndarray | None = None
    if "posedirs" in content:
        posedirs = _to_array(content["posedirs"], "posedirs", path).astype(np.float64)
        _expect_shape(path, "posedirs", posedirs, (num_vertices, 3, NUM_POSE_BASIS),
                      "vertices x xyz x 207 pose features")
        if not posedirs.any():
            posedirs = None
    for key, array in (("v_template", v_template), ("shapedirs", shapedirs),
                       ("J_regressor", j_regressor), ("weights", weights)):
        if not np.isfinite(array).all():
            raise BodyModelFormatError(f"{path}: {key} contains NaN or inf")

    landmark_names: tuple[str, ...] = ()
    landmark_ids = np.zeros((0, 1), np.int64)
    landmark_weights = np.zeros((0, 1), np.float64)
    if "landmark_names" in content:
        landmark_names = tuple(str(n) for n in np.asarray(content["landmark_names"]).ravel())
        unknown = [n for n in landmark_names if n not in LANDMARK_NAMES]
        if unknown:
            raise BodyModelFormatError(f"{path}: unknown landmark names {unknown}")
        for key in ("landmark_vertex_ids", "landmark_vertex_weights"):
            if key not in content:
                raise BodyModelFormatError(f"{path}: landmark_names given without {key}")
        landmark_ids = np.asarray(content["landmark_vertex_ids"]).astype(np.int64)
        landmark_weights = np.asarray(content["landmark_vertex_weights"]).astype(np.float64)
        _expect_shape(path, "landmark_vertex_ids", landmark_ids, (len(landmark_names), None),
                      "landmarks x vertices per landmark")
        _expect_shape(path, "landmark_vertex_weights", landmark_weights,
                      tuple(landmark_ids.shape), "same shape as landmark_vertex_ids")
        if landmark_ids.size and (landmark_ids.min() < 0 or landmark_ids.max() >= num_vertices):
            raise BodyModelFormatError(f"{path}: landmark_vertex_ids out of range")
    elif num_vertices == SMPL_NUM_VERTICES:
        landmark_names = tuple(SMPL_LANDMARK_VERTEX_IDS)
        landmark_ids = np.asarray(list(SMPL_LANDMARK_VERTEX_IDS.values()), np.int64)[:, None]
        landmark_weights = np.ones_like(landmark_ids, dtype=np.float64)

    if "name" in content:
        name = str(np.asarray(content["name"]))
    return BodyModelArrays(
        name=name,
        v_template=v_template,
        shapedirs=shapedirs[:, :, :NUM_BETAS].copy(),
        posedirs=posedirs,
        J_regressor=j_regressor,
        weights=weights,
        faces=faces,
        landmark_names=landmark_names,
        landmark_vertex_ids=landmark_ids,
        landmark_vertex_weights=landmark_weights,
        source=str(path),
    )


def read_model_file(path: str | Path) -> BodyModelArrays:
    """Read and validate an official SMPL ``.pkl`` or an ``.npz`` body model file.

    Raises:
        BodyModelNotFoundError: no such file.
        BodyModelFileError: unreadable (truncated, corrupt, neither pickle nor npz).
        BodyModelFormatError: readable but arrays missing or of the wrong shape.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        what = "is a directory" if path.is_dir() else "does not exist"
        raise BodyModelNotFoundError(f"body model file {path} {what}; expected {_EXPECTED}")
    with path.open("rb") as file:
        magic = file.read(4)
    if magic.startswith(b"PK"):
        content = _read_npz(path)
    elif magic[:1] == b"\x80" or path.suffix.lower() in (".pkl", ".pickle"):
        content = _read_pkl(path)
    else:
        raise BodyModelFileError(
            f"{path}: neither an .npz (zip) archive nor a pickle (starts with {magic!r}); "
            f"expected {_EXPECTED}"
        )
    return arrays_from_mapping(content, path, name=path.stem)
