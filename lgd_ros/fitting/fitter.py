"""The one fitting API every front end uses: :class:`Fitter` and :class:`FitResult`.

A fit normalises the keypoints (intrinsics, then the person's box), runs the init
network (cold start) or converts a previous :class:`FitResult` (warm start), then a few
learned update steps, each fed the gradient of the confidence-weighted reprojection
error. The gradient is written out, so a fit needs no autograd at all: it is one fixed
sequence of tensor operations (:class:`FitModule`), which :class:`Fitter` traces once per
step count into a frozen TorchScript graph and runs as such (see :meth:`Fitter.fit`).

Bad input never comes back as a successful fit: wrong shapes and unusable intrinsics
raise :class:`~lgd_ros.fitting.errors.FitInputError`; samples with too few usable
keypoints (missing, NaN or zero confidence), non-finite results or a large remaining
reprojection error are returned with ``success = False``.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lgd_ros.body import BodyModel
from lgd_ros.body.camera import check_intrinsics, project_points
from lgd_ros.body.errors import BodyError
from lgd_ros.body.rotations import matrix_to_axis_angle
from lgd_ros.fitting.errors import FitInputError, FittingError, WeightsError
from lgd_ros.fitting.networks import LGDNetwork
from lgd_ros.fitting.objective import PosedBody, ReprojectionObjective
from lgd_ros.fitting.observation import KeypointObservation, normalize_keypoints
from lgd_ros.fitting.state import BodyState
from lgd_ros.fitting.weights import (
    WeightsMetadata,
    default_weights_path,
    load_weights,
    retrain_command,
    shipped_formats,
)

__all__ = [
    "DEFAULT_FORMAT",
    "RESULT_TENSORS",
    "FitModule",
    "FitOptions",
    "FitResult",
    "Fitter",
    "make_fit_result",
]

#: Keypoint format of ``Fitter.load()`` without arguments (COCO-17: most detectors).
DEFAULT_FORMAT: str = "coco17"

#: The tensor fields of :class:`FitResult`, in the order :class:`FitModule` returns them.
RESULT_TENSORS: tuple[str, ...] = (
    "pose", "betas", "transl", "joints", "keypoints3d", "keypoints2d", "residuals_px",
    "mean_error_px", "quality", "success",
)

#: Most traced graphs a fitter keeps, least recently used dropped first. One per start and
#: step count; each costs 15-40 MB here (more with more steps). A stream uses two (cold and
#: warm); the benchmark's sweep over 0-4 cold and 1-4 warm steps uses nine, and a cache
#: smaller than a cyclic sweep re-traces on every call.
MAX_GRAPHS: int = 12


@dataclass(frozen=True)
class FitResult:
    """A batch of fits, everything in the camera optical frame (metres, pixels).

    Attributes:
        pose: ``[B, 72]`` SMPL axis-angle pose; ``pose[:, :3]`` is the global orientation
            in the camera frame.
        betas: ``[B, num_betas]`` shape.
        transl: ``[B, 3]`` SMPL translation (``BodyModel.forward(pose, betas, transl)``
            reproduces ``joints``).
        joints: ``[B, 24, 3]`` SMPL joints; ``joints[:, 0]`` is the pelvis.
        keypoints3d: ``[B, J, 3]`` the format's keypoints.
        keypoints2d: ``[B, J, 2]`` their projections, pixels.
        residuals_px: ``[B, J]`` distance between ``keypoints2d`` and the input, pixels;
            NaN where the input was missing or the model has no such keypoint.
        mean_error_px: ``[B]`` confidence-weighted mean of ``residuals_px``.
        quality: ``[B]`` in [0, 1]: ``exp(-mean error / (0.05 box size))``; 0 on failure.
        success: ``[B]`` bool; False means do not use this fit.
        steps_used: number of learned update steps run.
        fmt: keypoint format name.
    """

    pose: torch.Tensor
    betas: torch.Tensor
    transl: torch.Tensor
    joints: torch.Tensor
    keypoints3d: torch.Tensor
    keypoints2d: torch.Tensor
    residuals_px: torch.Tensor
    mean_error_px: torch.Tensor
    quality: torch.Tensor
    success: torch.Tensor
    steps_used: int
    fmt: str

    def __len__(self) -> int:
        return int(self.pose.shape[0])

    def _map(self, fn: Any) -> FitResult:
        # Called per person per frame by the pipelines: no dataclasses.fields() walk.
        values = dict(self.__dict__)
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                values[name] = fn(value)
        return FitResult(**values)

    def select(self, index: torch.Tensor | slice | int | list[int]) -> FitResult:
        """Sub-batch (e.g. the people kept by a tracker); an int keeps the batch dimension."""
        if isinstance(index, int):
            index = slice(index, index + 1 if index != -1 else None)  # a view, not a gather
        return self._map(lambda t: t[index])

    def to(self, device: torch.device | str) -> FitResult:
        """Copy to another device (``self`` when already there)."""
        if self.pose.device == torch.device(device):
            return self
        return self._map(lambda t: t.to(device))

    @staticmethod
    def concatenate(results: list[FitResult]) -> FitResult:
        """Join results of the same format along the batch dimension."""
        if not results:
            raise FittingError("FitResult.concatenate needs at least one result")
        if len(results) == 1:
            return results[0]
        first = results[0]
        values: dict[str, Any] = {}
        for f in fields(first):
            items = [getattr(r, f.name) for r in results]
            values[f.name] = torch.cat(items) if isinstance(items[0], torch.Tensor) else items[0]
        return FitResult(**values)


@dataclass(frozen=True)
class FitOptions:
    """When a fit counts as successful.

    Attributes:
        min_keypoints: fewest keypoints with positive confidence needed (a 3D pose from
            fewer is a guess).
        max_relative_error: largest accepted weighted mean reprojection error as a fraction
            of the person's box size.
    """

    min_keypoints: int = 5
    max_relative_error: float = 0.12


def as_fit_tensor(name: str, value: Any, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A fit input as a detached tensor of ``dtype`` on ``device`` (tensor, array or list)."""
    if isinstance(value, torch.Tensor):
        return value.detach().to(dtype=dtype, device=device)
    if isinstance(value, np.ndarray | list | tuple):
        try:
            return torch.as_tensor(np.asarray(value, dtype=np.float64), dtype=dtype,
                                   device=device)
        except (TypeError, ValueError) as exc:
            raise FitInputError(f"{name} must be numeric, got {type(value).__name__}") from exc
    raise FitInputError(
        f"{name} must be a torch.Tensor or numpy array, got {type(value).__name__}"
    )


def check_fit_inputs(
    keypoints: Any, confidence: Any, intrinsics: Any, init: FitResult | None, *,
    num_keypoints: int, fmt: str, dtype: torch.dtype, device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check the inputs of a ``fit`` call the same way for every backend.

    Returns:
        ``keypoints [B, J, 2]``, ``confidence [B, J]`` and ``intrinsics [B, 3, 3]`` as tensors.

    Raises:
        FitInputError: wrong types or shapes, unusable intrinsics, an ``init`` that is not a
            :class:`FitResult` of the same batch size.
    """
    kp = as_fit_tensor("keypoints", keypoints, dtype, device)
    conf = as_fit_tensor("confidence", confidence, dtype, device)
    k_mat = as_fit_tensor("intrinsics", intrinsics, dtype, device)
    j = num_keypoints
    if kp.dim() != 3 or kp.shape[1:] != (j, 2):
        raise FitInputError(
            f"keypoints must have shape [B, {j}, 2] (pixels, format {fmt!r}), "
            f"got {tuple(kp.shape)}"
        )
    b = kp.shape[0]
    if conf.shape != (b, j):
        raise FitInputError(
            f"confidence must have shape [{b}, {j}] to match keypoints, got {tuple(conf.shape)}"
        )
    try:
        check_intrinsics(k_mat, batch_size=b)
    except BodyError as exc:
        raise FitInputError(f"bad intrinsics: {exc}") from exc
    if k_mat.dim() == 2:
        k_mat = k_mat.expand(b, 3, 3)
    if init is not None:
        if not isinstance(init, FitResult):
            raise FitInputError(f"init must be a FitResult, got {type(init).__name__}")
        if len(init) != b:
            raise FitInputError(f"init has {len(init)} fits, but {b} keypoint sets were given")
    return kp, conf, k_mat


def check_steps(steps: Any) -> None:
    """``steps`` must be a non-negative int (a bool is not one)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise FitInputError(f"steps must be a non-negative int, got {steps!r}")


class Fitter:
    """Learned-gradient-descent fitter of one body model and keypoint format.

    Build with :meth:`load`. A fitter holds no state between fits (warm starts are passed
    explicitly as ``init``) apart from its cache of traced graphs; concurrent ``fit``
    calls on one instance share torch's thread pools.
    """

    def __init__(
        self,
        network: LGDNetwork,
        body_model: BodyModel,
        meta: WeightsMetadata,
        *,
        device: torch.device | str | None = None,
        options: FitOptions = FitOptions(),
        trace: bool = True,
    ) -> None:
        self.device = torch.device(device) if device is not None else body_model_device(body_model)
        self.body_model = body_model.to(self.device)
        self.dtype = next(iter(self.body_model.buffers())).dtype
        # The networks follow the body model's precision: a float64 body model gives a
        # float64 fit (a reference for checking float32 and exported fits).
        self.network = network.to(device=self.device, dtype=self.dtype).eval()
        for parameter in self.network.parameters():
            parameter.requires_grad_(False)
        # What fit() runs: the same weights with the MLPs as frozen graphs (faster at
        # batch 1). self.network stays the plain module (export, fingerprints).
        self._inference_network = self.network.frozen_for_inference()
        self.meta = meta
        self.options = options
        self.layer = self.body_model.keypoint_layer(meta.keypoint_format)
        self.objective = ReprojectionObjective(self.body_model, meta.keypoint_format)
        self._available = self.layer.available.to(self.device)
        self.trace = trace
        self._graphs: OrderedDict[tuple[bool, int, FitOptions], nn.Module] = OrderedDict()

    @classmethod
    def load(
        cls,
        weights: str | Path | None = None,
        body_model: BodyModel | str | Path | None = None,
        *,
        fmt: str | None = None,
        device: torch.device | str | None = None,
        options: FitOptions = FitOptions(),
        trace: bool = True,
    ) -> Fitter:
        """Load weights and a body model.

        Args:
            weights: a weights file; None = the weights shipped for ``fmt``.
            body_model: a loaded :class:`BodyModel`, a model file path, or None for the
                open default body model.
            fmt: keypoint format; checked against the weights. None means ``"coco17"``
                for the shipped weights, or whatever format a given weights file was
                trained for.
            device: where to run; default the body model's device (CPU for a fresh load).
            options: when a fit counts as successful.
            trace: run fits as traced TorchScript graphs (see :meth:`fit`); False runs
                the same operations eagerly.

        Raises:
            WeightsError: no weights file, or not a weights file.
            WeightsMismatchError: weights trained for another body model or format; the
                message gives the command that retrains them.
        """
        model_path: str | Path | None = None
        if not isinstance(body_model, BodyModel):
            model_path = body_model
            try:
                body_model = BodyModel.load(body_model, device=device)
            except BodyError as exc:
                raise WeightsError(f"cannot load the body model for fitting: {exc}") from exc
        if weights is None:
            fmt = fmt if fmt is not None else DEFAULT_FORMAT
            path = default_weights_path(fmt)
            if not path.is_file():
                raise WeightsError(
                    f"no weights are shipped for keypoint format {fmt!r} (shipped: "
                    f"{', '.join(shipped_formats()) or 'none'}); train them with: "
                    f"{retrain_command(fmt, model_path)}"
                )
        else:
            path = Path(weights)
        network, meta = load_weights(
            path, expected_fingerprint=body_model.fingerprint, expected_format=fmt,
            body_model_path=model_path,
        )
        return cls(network, body_model, meta, device=device, options=options, trace=trace)

    @property
    def fmt(self) -> str:
        """Keypoint format name the weights read."""
        return self.meta.keypoint_format

    @property
    def num_keypoints(self) -> int:
        """J of the keypoint format."""
        return int(self._available.shape[0])

    @property
    def default_steps(self) -> int:
        """Update steps of a cold fit."""
        return self.network.config.steps

    @property
    def default_warm_steps(self) -> int:
        """Update steps of a warm-started fit."""
        return self.network.config.warm_steps

    def _check_inputs(
        self, keypoints: Any, confidence: Any, intrinsics: Any, fmt: str | None,
        init: FitResult | None, steps: int | None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        if fmt is not None and fmt != self.fmt:
            raise FitInputError(
                f"this fitter's weights are for keypoint format {self.fmt!r}, got fmt={fmt!r}; "
                f"load a fitter with Fitter.load(fmt={fmt!r})"
            )
        kp, conf, k_mat = check_fit_inputs(keypoints, confidence, intrinsics, init,
                                           num_keypoints=self.num_keypoints, fmt=self.fmt,
                                           dtype=self.dtype, device=self.device)
        if steps is None:
            steps = self.default_warm_steps if init is not None else self.default_steps
        check_steps(steps)
        return kp, conf, k_mat, steps

    def fit(
        self,
        keypoints: torch.Tensor | np.ndarray,
        confidence: torch.Tensor | np.ndarray,
        intrinsics: torch.Tensor | np.ndarray,
        fmt: str | None = None,
        init: FitResult | None = None,
        steps: int | None = None,
    ) -> FitResult:
        """Fit the body model to 2D keypoints of ``B`` people.

        Args:
            keypoints: ``[B, J, 2]`` pixels in the format's order; missing keypoints may be
                anything (NaN included) as long as their confidence is 0.
            confidence: ``[B, J]`` detector confidence (0 = missing; NaN counts as 0).
            intrinsics: ``[3, 3]`` shared or ``[B, 3, 3]`` per-person camera matrix ``K``.
            fmt: keypoint format; None = the fitter's (another raises).
            init: previous fits of the same people (warm start); None = cold start.
            steps: update steps; None = the trained default (fewer for a warm start).

        Returns:
            A :class:`FitResult` on the fitter's device.

        Raises:
            FitInputError: wrong shapes or types, unusable intrinsics, mismatching init.

        The first fit of each start (cold or warm) and step count traces
        :class:`FitModule` into a frozen TorchScript graph (about 0.25 s; see
        :meth:`prepare`) and checks it against the eager module on that call's inputs;
        later fits run the graph, whatever their batch size. Why: at batch 1 a fit is a
        few hundred small tensor operations, and Python's dispatch of each costs more than
        its arithmetic -- the graph runs the same operations about twice as fast
        (``docs/fitting.md``). If tracing fails or the graph disagrees, a warning says so
        and the fitter runs eagerly.
        """
        kp, conf, k_mat, steps = self._check_inputs(keypoints, confidence, intrinsics, fmt,
                                                    init, steps)
        inputs = (kp, conf, k_mat)
        if init is not None:
            inputs += (init.pose.to(self.device, self.dtype),
                       init.betas.to(self.device, self.dtype))
        graph = self._graph(init is not None, steps, inputs)
        with torch.inference_mode(), torch.jit.optimized_execution(False):
            outputs = graph(*inputs)
        # Plain tensors (not inference tensors), so callers may modify them or use autograd.
        return FitResult(**{name: value.clone() for name, value in zip(RESULT_TENSORS, outputs,
                                                                        strict=True)},
                         steps_used=steps, fmt=self.fmt)

    def prepare(self, steps: int | None = None, warm_steps: int | None = None) -> None:
        """Trace the cold and warm graphs of these step counts now (None = the defaults).

        A stream's first frames would otherwise pay for tracing (about 0.25 s a graph);
        front ends call this at start-up. Fits one made-up person cold, then warm.
        """
        j = self.num_keypoints
        along = torch.linspace(0.0, 1.0, j, dtype=self.dtype, device=self.device)
        keypoints = torch.stack([300.0 + 40.0 * torch.sin(6.0 * along), 100.0 + 280.0 * along],
                                dim=-1)[None]
        confidence = torch.ones(1, j, dtype=self.dtype, device=self.device)
        intrinsics = torch.tensor([[500.0, 0.0, 320.0], [0.0, 500.0, 240.0], [0.0, 0.0, 1.0]],
                                  dtype=self.dtype, device=self.device)
        cold = self.fit(keypoints, confidence, intrinsics, steps=steps)
        self.fit(keypoints, confidence, intrinsics, init=cold, steps=warm_steps)

    def fit_module(self, warm: bool, steps: int, *, eager_networks: bool = True) -> FitModule:
        """The fit of ``steps`` update steps as a module with tensor inputs and outputs.

        ``eager_networks`` uses the frozen TorchScript copies of the MLPs (fastest when the
        module runs eagerly); False uses the plain network (what tracing and export need).
        """
        network = self._inference_network if eager_networks else self.network
        return FitModule(network, self.objective, self._available, options=self.options,
                         fmt=self.fmt, steps=steps, warm=warm).eval()

    def _graph(self, warm: bool, steps: int, inputs: tuple[torch.Tensor, ...]) -> nn.Module:
        """The traced graph for this start and step count, made on first use (see fit)."""
        key = (warm, steps, self.options)
        graph = self._graphs.get(key)
        if graph is not None:
            self._graphs.move_to_end(key)
            return graph
        eager = self.fit_module(warm, steps)
        if not self.trace or inputs[0].shape[0] == 0:
            return eager
        graph = trace_fit_module(self.fit_module(warm, steps, eager_networks=False), eager,
                                 inputs)
        self._graphs[key] = graph
        if len(self._graphs) > MAX_GRAPHS:
            self._graphs.popitem(last=False)
        return graph


class FitModule(nn.Module):
    """A ``K``-step fit with tensors in and out: what :meth:`Fitter.fit` runs.

    ``forward(keypoints [B, J, 2], confidence [B, J], intrinsics [B, 3, 3][, init_pose
    [B, 72], init_betas [B, num_betas]])`` returns the tensors named in
    :data:`RESULT_TENSORS`. The step count, format, body model, weights and success
    options are constants of the module, and there is no data-dependent control flow:
    the same module is traced by :class:`Fitter` and exported to ONNX by
    :mod:`lgd_ros.export`, so neither can drift from the other.

    Args:
        network: the networks (plain, or with frozen MLPs for eager runs).
        objective: the reprojection error and its gradient.
        available: ``[J]`` bool, which keypoints the body model has.
        warm: start from ``init_pose``/``init_betas`` (:meth:`LGDNetwork.warm_state`)
            instead of the init network.
    """

    available: torch.Tensor

    def __init__(self, network: LGDNetwork, objective: ReprojectionObjective,
                 available: torch.Tensor, *, options: FitOptions, fmt: str, steps: int,
                 warm: bool) -> None:
        super().__init__()
        self.network = network
        self.objective = objective
        self.register_buffer("available", available, persistent=False)
        self.options = options
        self.fmt = fmt
        self.steps = steps
        self.warm = warm

    def forward(self, keypoints: torch.Tensor, confidence: torch.Tensor,
                intrinsics: torch.Tensor, init_pose: torch.Tensor | None = None,
                init_betas: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        obs = normalize_keypoints(keypoints, confidence, intrinsics, self.available)
        start = None
        if self.warm:
            if init_pose is None or init_betas is None:
                raise FittingError("a warm-start FitModule needs init_pose and init_betas")
            start = self.network.warm_state(obs, init_pose[:, 3:], init_betas)
        states, _ = self.network(obs, self.objective, self.steps, init=start)
        final = states[-1]
        posed = self.objective.pose(final, obs)
        result = make_fit_result(final, posed, obs, keypoints, intrinsics, steps=self.steps,
                                 fmt=self.fmt, options=self.options)
        return tuple(getattr(result, name) for name in RESULT_TENSORS)


def trace_fit_module(module: FitModule, eager: nn.Module,
                     inputs: tuple[torch.Tensor, ...]) -> nn.Module:
    """``module`` traced and frozen, or ``eager`` (with a warning) if that fails.

    Traced on ``inputs`` padded to at least 2 samples (a batch of 1 could be taken for a
    broadcast dimension), then checked against ``eager`` on ``inputs`` themselves, so a
    graph that did not generalise over the batch size is caught at once.

    Graphs are run with TorchScript's optimising executor off
    (``torch.jit.optimized_execution(False)``): it spends its first two runs of every
    graph, and again for new batch sizes, profiling (about 80 ms each here), and the
    frozen graph runs as fast without it.
    """
    try:
        with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
            # The tracer's warnings are about shape checks and loops over constant index
            # tables, which hold for every batch; the check below would catch the rest.
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            example = tuple(torch.cat([t, t]) if t.shape[0] == 1 else t.clone()
                            for t in inputs)
            graph = torch.jit.freeze(torch.jit.trace(module, example, check_trace=False))
        with torch.inference_mode(), torch.jit.optimized_execution(False):
            difference = _largest_difference(graph(*inputs), eager(*inputs))
    except Exception as exc:  # any tracing failure: stay eager
        warnings.warn(f"the fit could not be traced ({exc}); fitting eagerly (slower at "
                      "small batches)", RuntimeWarning, stacklevel=3)
        return eager
    if difference > 1e-3:
        warnings.warn(f"the traced fit differs from the eager fit by {difference:.3g}; "
                      "fitting eagerly (slower at small batches)", RuntimeWarning,
                      stacklevel=3)
        return eager
    return graph


def _largest_difference(a: tuple[torch.Tensor, ...], b: tuple[torch.Tensor, ...]) -> float:
    """Largest relative difference between two fits' outputs (inf if flags or NaNs differ)."""
    largest = 0.0
    for x, y in zip(a, b, strict=True):
        if x.dtype == torch.bool:
            if not torch.equal(x, y):
                return float("inf")
            continue
        if not torch.equal(torch.isnan(x), torch.isnan(y)):
            return float("inf")
        gap = ((x - y).abs() / (1.0 + y.abs())).nan_to_num(0.0)
        largest = max(largest, float(gap.max()) if gap.numel() else 0.0)
    return largest


def body_model_device(body_model: BodyModel) -> torch.device:
    """Device of a body model's buffers (CPU if it has none)."""
    for buffer in body_model.buffers():
        return buffer.device
    return torch.device("cpu")


def make_fit_result(
    state: BodyState,
    posed: PosedBody,
    obs: KeypointObservation,
    keypoints_px: torch.Tensor,
    intrinsics: torch.Tensor,
    *,
    steps: int,
    fmt: str,
    options: FitOptions,
) -> FitResult:
    """Assemble a :class:`FitResult` and decide success (shared with the SMPLify baseline).

    Args:
        state: final parameters; posed: ``pose_body`` of it; obs: the normalised input.
        keypoints_px: ``[B, J, 2]`` input pixels; intrinsics: ``[B, 3, 3]``.
    """
    pose = torch.cat([matrix_to_axis_angle(posed.rotation), state.body_pose], dim=-1)
    transl = posed.pelvis - posed.rest_pelvis
    keypoints2d = project_points(posed.keypoints, intrinsics)
    valid = obs.weights > 0
    distance = (keypoints2d - torch.where(valid[..., None], keypoints_px,
                                          keypoints2d.detach())).norm(dim=-1)
    residuals = torch.where(valid, distance, torch.full_like(distance, float("nan")))
    weights = obs.weights
    weight_sum = weights.sum(dim=1)
    mean_error = (torch.where(valid, distance, torch.zeros_like(distance)) * weights).sum(1)
    mean_error = mean_error / weight_sum.clamp(min=1e-6)
    box_px = obs.box_scale * intrinsics[:, 0, 0]
    relative = mean_error / box_px
    finite = (
        torch.isfinite(pose).all(1) & torch.isfinite(state.betas).all(1)
        & torch.isfinite(posed.keypoints).all(2).all(1) & torch.isfinite(relative)
    )
    success = (
        finite
        & (obs.num_valid >= options.min_keypoints)
        & (relative <= options.max_relative_error)
        & (posed.pelvis[:, 2] > 0)
    )
    mean_error = torch.where(weight_sum > 0, mean_error,
                             torch.full_like(mean_error, float("nan")))
    quality = torch.where(success, torch.exp(-relative / 0.05), torch.zeros_like(relative))
    return FitResult(
        pose=pose, betas=state.betas, transl=transl, joints=posed.joints,
        keypoints3d=posed.keypoints, keypoints2d=keypoints2d, residuals_px=residuals,
        mean_error_px=mean_error, quality=quality, success=success, steps_used=steps,
        fmt=fmt,
    )
