"""The fitting loop as one traceable module: what ``lgd-ros export`` turns into ONNX.

:class:`FitGraph` runs exactly what :meth:`lgd_ros.fitting.Fitter.fit` runs -- keypoint
normalisation, the init network (cold start) or the previous fit (warm start), ``K``
learned update steps each fed the *written-out* gradient of the reprojection error
(:meth:`ReprojectionObjective.gradient`: plain tensor operations, no autograd, which is
what makes the loop exportable to ONNX Runtime and TensorRT), then the result and its
success flags (:func:`make_fit_result`). It calls the fitter's own functions, so the
exported graph cannot drift from the torch fitter; what differs is only that ``K``, the
keypoint format, the body model and the weights become constants of the graph.

Inputs and outputs are plain tensors with a leading batch dimension ``B`` (the only
dynamic dimension), listed in :data:`INPUT_NAMES`, :data:`WARM_INPUT_NAMES` and
:data:`OUTPUT_NAMES`.
"""

from __future__ import annotations

import torch
from torch import nn

from lgd_ros.export.metadata import Start
from lgd_ros.fitting.fitter import RESULT_TENSORS, Fitter, make_fit_result
from lgd_ros.fitting.observation import KeypointObservation, normalize_keypoints
from lgd_ros.fitting.state import BodyState

__all__ = [
    "INPUT_DOCS",
    "INPUT_NAMES",
    "NEXT_STATE_NAME",
    "OBSERVATION_NAMES",
    "OUTPUT_DOCS",
    "OUTPUT_NAMES",
    "STATE_NAME",
    "WARM_INPUT_NAMES",
    "FinishPiece",
    "FitGraph",
    "GradientGraph",
    "StartPiece",
    "StepPiece",
]

#: Inputs of every fit graph: ``keypoints [B, J, 2]`` pixels, ``confidence [B, J]``,
#: ``intrinsics [B, 3, 3]``.
INPUT_NAMES: tuple[str, ...] = ("keypoints", "confidence", "intrinsics")
#: Extra inputs of a warm-start graph: the previous fit's ``pose [B, 72]``,
#: ``betas [B, num_betas]``, ``transl [B, 3]`` and ``joints [B, 24, 3]``. An exported warm
#: graph keeps only those the fitter's warm start reads (today pose and betas); runners
#: feed the inputs a graph declares.
WARM_INPUT_NAMES: tuple[str, ...] = ("init_pose", "init_betas", "init_transl", "init_joints")
#: Outputs, in order: the tensor fields of :class:`lgd_ros.fitting.FitResult`.
OUTPUT_NAMES: tuple[str, ...] = RESULT_TENSORS

INPUT_DOCS: dict[str, str] = {
    "keypoints": "[B, J, 2] float32 pixel coordinates (u right, v down) in the keypoint "
                 "format's order; missing keypoints: any value with confidence 0",
    "confidence": "[B, J] float32 detector confidence, 0 = missing (NaN counts as 0)",
    "intrinsics": "[B, 3, 3] float32 pinhole camera matrix K (sensor_msgs/CameraInfo.k)",
    "init_pose": "[B, 72] float32 previous fit's SMPL axis-angle pose (camera frame)",
    "init_betas": "[B, num_betas] float32 previous fit's shape",
    "init_transl": "[B, 3] float32 previous fit's SMPL translation, metres, camera frame",
    "init_joints": "[B, 24, 3] float32 previous fit's joints, metres, camera frame",
}
OUTPUT_DOCS: dict[str, str] = {
    "pose": "[B, 72] SMPL axis-angle pose, pose[:, :3] = global orientation in the camera "
            "optical frame (x right, y down, z forward)",
    "betas": "[B, num_betas] body shape",
    "transl": "[B, 3] SMPL translation, metres, camera frame",
    "joints": "[B, 24, 3] SMPL joints, metres, camera frame; joints[:, 0] is the pelvis",
    "keypoints3d": "[B, J, 3] the format's keypoints, metres, camera frame",
    "keypoints2d": "[B, J, 2] their projections, pixels",
    "residuals_px": "[B, J] distance to the input keypoints, pixels; NaN where missing",
    "mean_error_px": "[B] confidence-weighted mean residual, pixels",
    "quality": "[B] in [0, 1], 0 on failure",
    "success": "[B] bool; false = do not use this fit",
}


class FitGraph(nn.Module):
    """``K``-step fit of one fitter as a module with tensor inputs and outputs only.

    The fitter's own :class:`~lgd_ros.fitting.fitter.FitModule` (what ``Fitter.fit``
    traces and runs) with the plain networks, taking the export's warm inputs.

    Args:
        fitter: a loaded :class:`Fitter` (its network, objective and options are used as
            they are; move it to the export device and dtype first).
        steps: learned update steps to unroll.
        start: ``cold`` (init network) or ``warm`` (the previous fit is an input).
    """

    def __init__(self, fitter: Fitter, steps: int, start: Start) -> None:
        super().__init__()
        self.fit = fitter.fit_module(start == "warm", steps, eager_networks=False)
        self.steps = steps
        self.start = start

    @property
    def input_names(self) -> tuple[str, ...]:
        """Graph input names for this start."""
        return INPUT_NAMES + (WARM_INPUT_NAMES if self.start == "warm" else ())

    def forward(self, keypoints: torch.Tensor, confidence: torch.Tensor,
                intrinsics: torch.Tensor, init_pose: torch.Tensor | None = None,
                init_betas: torch.Tensor | None = None,
                init_transl: torch.Tensor | None = None,
                init_joints: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        """Fit; the ``init_*`` inputs (see :data:`WARM_INPUT_NAMES`) only for a warm graph.

        ``init_transl`` and ``init_joints`` are accepted for the graph's input list; the
        warm start reads only ``init_pose`` and ``init_betas``.

        Returns:
            The tensors named in :data:`OUTPUT_NAMES`.
        """
        if self.start == "warm" and (init_pose is None or init_betas is None
                                     or init_transl is None or init_joints is None):
            raise ValueError(f"a warm-start FitGraph needs {', '.join(WARM_INPUT_NAMES)}")
        return self.fit(keypoints, confidence, intrinsics, init_pose, init_betas)


# ------------------------------------------------------------------ pieces of the loop
#
# Tracing and translating one update step costs as much as the whole rest of the fit, so
# the exporter traces the loop in pieces -- start, ONE update step, finish -- and chains
# ``K`` copies of the step at the ONNX level (:mod:`lgd_ros.export.compose`; the copies
# share the weights). This is the same computation as ``LGDNetwork.forward(steps=K)``:
# its loop is ``x_{t+1} = update(features(obs), x_t, grad E(x_t))`` with one update
# network for every step, and ``LGDNetwork.forward(obs, objective, 1, init=x_t)`` is one
# such step. Export time no longer grows with ``K``, and the warm-start graph reuses the
# step and finish pieces. The chained file is checked against :class:`FitGraph`.

#: Tensors passed between pieces: the observation's fields and the flat state.
OBSERVATION_NAMES: tuple[str, ...] = ("rays", "weights", "box_centre", "box_scale",
                                      "num_valid")
STATE_NAME = "state"
NEXT_STATE_NAME = "next_state"


def _observation(rays: torch.Tensor, weights: torch.Tensor, box_centre: torch.Tensor,
                 box_scale: torch.Tensor, num_valid: torch.Tensor) -> KeypointObservation:
    return KeypointObservation(rays=rays, weights=weights, box_centre=box_centre,
                               box_scale=box_scale, num_valid=num_valid)


def _observation_tensors(obs: KeypointObservation) -> tuple[torch.Tensor, ...]:
    return (obs.rays, obs.weights, obs.box_centre, obs.box_scale, obs.num_valid)


class StartPiece(nn.Module):
    """Normalise the keypoints and make the first state (init network or previous fit).

    ``forward(keypoints, confidence, intrinsics[, init_pose, init_betas, init_transl,
    init_joints])
    -> (rays, weights, box_centre, box_scale, num_valid, state [B, S])``.
    """

    available: torch.Tensor

    def __init__(self, fitter: Fitter, start: Start) -> None:
        super().__init__()
        self.network = fitter.network
        self.objective = fitter.objective
        self.start = start
        self.register_buffer("available", fitter.layer.available.clone(), persistent=False)

    @property
    def input_names(self) -> tuple[str, ...]:
        return INPUT_NAMES + (WARM_INPUT_NAMES if self.start == "warm" else ())

    output_names: tuple[str, ...] = OBSERVATION_NAMES + (STATE_NAME,)

    def forward(self, keypoints: torch.Tensor, confidence: torch.Tensor,
                intrinsics: torch.Tensor, init_pose: torch.Tensor | None = None,
                init_betas: torch.Tensor | None = None,
                init_transl: torch.Tensor | None = None,
                init_joints: torch.Tensor | None = None) -> tuple[torch.Tensor, ...]:
        obs = normalize_keypoints(keypoints, confidence, intrinsics, self.available)
        if self.start == "warm":
            if init_pose is None or init_betas is None or init_transl is None \
                    or init_joints is None:
                raise ValueError(f"a warm StartPiece needs {', '.join(WARM_INPUT_NAMES)}")
            # The warm start FitModule.forward (what Fitter.fit runs) makes.
            state = self.network.warm_state(obs, init_pose[:, 3:], init_betas)
        else:
            state = self.network(obs, self.objective, 0)[0][0]
        return _observation_tensors(obs) + (state.flat(),)


class StepPiece(nn.Module):
    """One learned update: ``(rays, ..., num_valid, state) -> (next_state,)``."""

    input_names: tuple[str, ...] = OBSERVATION_NAMES + (STATE_NAME,)
    output_names: tuple[str, ...] = (NEXT_STATE_NAME,)

    def __init__(self, fitter: Fitter) -> None:
        super().__init__()
        self.network = fitter.network
        self.objective = fitter.objective
        self.num_betas = fitter.network.config.num_betas

    def forward(self, rays: torch.Tensor, weights: torch.Tensor, box_centre: torch.Tensor,
                box_scale: torch.Tensor, num_valid: torch.Tensor,
                state: torch.Tensor) -> tuple[torch.Tensor]:
        obs = _observation(rays, weights, box_centre, box_scale, num_valid)
        current = BodyState.from_flat(state, self.num_betas)
        states, _ = self.network(obs, self.objective, 1, init=current)
        return (states[-1].flat(),)


class FinishPiece(nn.Module):
    """Pose the final state and assemble the result: ``(keypoints, intrinsics, rays, ...,
    num_valid, state) -> OUTPUT_NAMES``."""

    input_names: tuple[str, ...] = ("keypoints", "intrinsics") + OBSERVATION_NAMES + (
        STATE_NAME,)
    output_names: tuple[str, ...] = OUTPUT_NAMES

    def __init__(self, fitter: Fitter) -> None:
        super().__init__()
        self.objective = fitter.objective
        self.options = fitter.options
        self.fmt = fitter.fmt
        self.num_betas = fitter.network.config.num_betas

    def forward(self, keypoints: torch.Tensor, intrinsics: torch.Tensor, rays: torch.Tensor,
                weights: torch.Tensor, box_centre: torch.Tensor, box_scale: torch.Tensor,
                num_valid: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, ...]:
        obs = _observation(rays, weights, box_centre, box_scale, num_valid)
        final = BodyState.from_flat(state, self.num_betas)
        posed = self.objective.pose(final, obs)
        # steps only labels the FitResult, which is not an output: the piece is shared by
        # graphs of any step count.
        result = make_fit_result(final, posed, obs, keypoints, intrinsics, steps=0,
                                 fmt=self.fmt, options=self.options)
        return tuple(getattr(result, name) for name in OUTPUT_NAMES)


class GradientGraph(nn.Module):
    """Error and written-out gradient at a given state: the part of the loop that replaces
    autograd, exported on its own so it can be checked against ``torch.autograd``.

    ``forward(keypoints [B, J, 2], confidence [B, J], intrinsics [B, 3, 3],
    state [B, 6 + 69 + num_betas + 3]) -> (error [B], gradient [B, 3 + 69 + num_betas + 3])``
    with the gradient groups in :class:`~lgd_ros.fitting.objective.BodyGradient` order
    (orientation, body pose, betas, root).
    """

    available: torch.Tensor

    def __init__(self, fitter: Fitter) -> None:
        super().__init__()
        self.objective = fitter.objective
        self.num_betas = fitter.network.config.num_betas
        self.register_buffer("available", fitter.layer.available.clone(), persistent=False)

    def forward(self, keypoints: torch.Tensor, confidence: torch.Tensor,
                intrinsics: torch.Tensor, state: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        obs = normalize_keypoints(keypoints, confidence, intrinsics, self.available)
        error, grad = self.objective.gradient(BodyState.from_flat(state, self.num_betas), obs)
        return error, torch.cat(grad.tensors(), dim=-1)
