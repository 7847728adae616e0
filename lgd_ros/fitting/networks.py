"""The learned-gradient-descent networks (Song, Chen, Hilliges, ECCV 2020), camera-aware.

Two residual MLPs:

* ``init_net``: normalised keypoints + confidences + box centre -> a first
  :class:`~lgd_ros.fitting.state.BodyState` (pose, shape and box-relative pelvis);
* ``update_net``: the same inputs plus the current state and the gradient of the
  reprojection error at it -> an additive update of every parameter group.

One update network is shared by all steps (the reference also reused its update
networks), so a fit may run any number of steps and a warm start from a previous frame
uses the same weights. The step loop below runs a fixed, Python-int number of times with
no data-dependent control flow, so it can be traced for ONNX export once the gradient is
written out.
"""

from __future__ import annotations

import copy
import re
import warnings
from dataclasses import asdict, dataclass

import torch
from torch import nn

from lgd_ros.fitting.objective import BodyGradient, ReprojectionObjective
from lgd_ros.fitting.observation import KeypointObservation
from lgd_ros.fitting.state import (
    BODY_POSE_DIM,
    DEFAULT_LOG_BODY_SIZE,
    BodyState,
    facing_camera_6d,
    state_dim,
)

__all__ = ["GRADIENT_GROUPS", "LGDNetwork", "NetworkConfig", "ResidualMLP", "load_grown"]

#: Number of parameter groups whose gradients are normalised separately (orient, body
#: pose, betas, root).
GRADIENT_GROUPS: int = 4


@dataclass(frozen=True)
class NetworkConfig:
    """Architecture and default step counts; stored in every weights file.

    Attributes:
        num_keypoints: K of the keypoint format the networks read.
        num_betas: shape parameters of the body model.
        width: hidden width of the update MLP (run every step: kept small for speed).
        num_blocks: residual blocks per MLP.
        init_width: hidden width of the init MLP (run once per cold fit).
        dropout: dropout probability inside the blocks (training only).
        steps: default number of update steps for a cold start.
        warm_steps: default number of update steps when started from a previous fit.
        warm_blend: weight of a previous fit's joint rotations and shape in a warm start;
            the rest comes from the init network's estimate on the current frame (1 = the
            previous fit alone, what weights trained before this option used).
    """

    num_keypoints: int
    num_betas: int = 10
    width: int = 512
    num_blocks: int = 2
    dropout: float = 0.0
    steps: int = 4
    warm_steps: int = 2
    init_width: int = 512
    warm_blend: float = 1.0

    def to_dict(self) -> dict[str, int | float]:
        """Plain dict for storing in a weights file."""
        return asdict(self)


class _ResidualBlock(nn.Module):
    """``x + f(x)`` with ``f`` = two (Linear, LayerNorm, PReLU) layers and dropout.

    LayerNorm instead of the reference's BatchNorm: inference runs at batch 1 and the
    input statistics change from step to step.
    """

    def __init__(self, width: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(width, width), nn.LayerNorm(width), nn.PReLU(width), nn.Dropout(dropout),
            nn.Linear(width, width), nn.LayerNorm(width), nn.PReLU(width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class ResidualMLP(nn.Module):
    """Linear -> LayerNorm -> PReLU, ``num_blocks`` residual blocks, Linear out.

    The output layer starts at zero, so an untrained update network makes no update and
    an untrained init network returns the default (upright, facing the camera) body.
    """

    def __init__(self, in_dim: int, out_dim: int, width: int, num_blocks: int,
                 dropout: float) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Linear(in_dim, width), nn.LayerNorm(width), nn.PReLU(width))
        self.blocks = nn.Sequential(*[_ResidualBlock(width, dropout) for _ in range(num_blocks)])
        self.head = nn.Linear(width, out_dim)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, in_dim] -> [B, out_dim]``."""
        return self.head(self.blocks(self.stem(x)))


def load_grown(network: LGDNetwork, source: LGDNetwork) -> None:
    """Load ``source`` into ``network``, which may have more residual blocks per MLP.

    The extra blocks start as the identity: the scale and bias of each one's last
    LayerNorm are zeroed, so it returns 0, PReLU(0) = 0 and ``x + f(x) = x`` (the "zero
    gamma" start of residual networks). The grown network computes exactly what
    ``source`` does, and training adds capacity without first losing what ``source``
    learned. Zeroing the last Linear instead would not do: LayerNorm rescales its first
    small non-zero output to unit size, so the block would jump in after one step.

    Raises:
        ValueError: ``source`` differs in anything but a smaller block count.
    """
    grown, base = network.config, source.config
    same = {k: v for k, v in base.to_dict().items()
            if k not in ("num_blocks", "steps", "warm_steps", "warm_blend")}
    differs = {k: (v, getattr(grown, k)) for k, v in same.items() if getattr(grown, k) != v}
    if differs or base.num_blocks > grown.num_blocks:
        raise ValueError(
            f"can only add residual blocks to a network: {base.num_blocks} -> "
            f"{grown.num_blocks} blocks, other differences (source, target): {differs}"
        )

    def in_new_block(name: str) -> bool:
        match = re.match(r"(init_net|update_net)\.blocks\.(\d+)\.", name)
        return match is not None and int(match.group(2)) >= base.num_blocks

    missing, unexpected = network.load_state_dict(source.state_dict(), strict=False)
    if unexpected:
        raise ValueError(f"unexpected parameters in the source network: {unexpected}")
    not_new = [name for name in missing if not in_new_block(name)]
    if not_new:
        raise ValueError(f"parameters missing from the source network: {not_new}")
    for mlp in (network.init_net, network.update_net):
        for block in list(mlp.blocks)[base.num_blocks:]:
            last_norm = block.layers[5]
            nn.init.zeros_(last_norm.weight)
            nn.init.zeros_(last_norm.bias)


def _observation_features(obs: KeypointObservation) -> torch.Tensor:
    """``[B, 3K + 2]``: box keypoints, weights clipped to [0, 1], box centre."""
    batch = obs.rays.shape[0]
    return torch.cat(
        [obs.box_keypoints.reshape(batch, -1), obs.weights.clamp(max=1.0), obs.box_centre],
        dim=-1,
    )


def gradient_dim(num_betas: int) -> int:
    """Length of the gradient features before the log norms (3 + 69 + num_betas + 3)."""
    return 3 + 69 + num_betas + 3


def _gradient_features(grad: BodyGradient) -> torch.Tensor:
    """Per-group normalised gradient ``[B, 75 + num_betas]`` and log group norms ``[B, 4]``.

    The gradient's size spans orders of magnitude between a first guess and a converged
    fit; dividing each group by its RMS gives the network a direction of unit scale and
    the log-RMS tells it how far from a minimum it is. Groups are handled with one
    ``[D, 4]`` membership matrix so the cost does not grow with the number of groups.
    """
    flat = torch.cat(grad.tensors(), dim=-1)  # [B, D]
    membership = _group_membership(tuple(t.shape[-1] for t in grad.tensors()), flat)
    mean_square = (flat.square() @ membership) / membership.sum(dim=0)  # [B, 4]
    rms = (mean_square + 1e-12).sqrt()
    directions = flat / (rms @ membership.transpose(0, 1) + 1e-4)
    return torch.cat([directions, torch.log(rms + 1e-6)], dim=-1)


_MEMBERSHIP_CACHE: dict[tuple[tuple[int, ...], torch.dtype, torch.device], torch.Tensor] = {}


def _group_membership(sizes: tuple[int, ...], like: torch.Tensor) -> torch.Tensor:
    """``[sum(sizes), len(sizes)]`` 0/1 matrix: column g marks the entries of group g.

    Cached, and made outside inference mode so that a matrix first built during a fit
    still serves training (see :func:`lgd_ros.body.rotations._rodrigues_constants`).
    """
    key = (sizes, like.dtype, like.device)
    cached = _MEMBERSHIP_CACHE.get(key)
    if cached is None:
        with torch.inference_mode(False):
            cached = torch.zeros(sum(sizes), len(sizes), dtype=like.dtype, device=like.device)
            start = 0
            for group, size in enumerate(sizes):
                cached[start:start + size, group] = 1.0
                start += size
        _MEMBERSHIP_CACHE[key] = cached
    return cached


class LGDNetwork(nn.Module):
    """Init and update networks plus the unrolled fitting loop.

    ``forward`` returns every stage's state (init first) so the training loss can be
    summed over stages; inference takes the last one.
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        obs_dim = 3 * config.num_keypoints + 2
        sdim = state_dim(config.num_betas)
        self.init_net = ResidualMLP(obs_dim, sdim, config.init_width, config.num_blocks,
                                    config.dropout)
        self.update_net = ResidualMLP(obs_dim + sdim + gradient_dim(config.num_betas)
                                      + GRADIENT_GROUPS, sdim, config.width,
                                      config.num_blocks, config.dropout)
        # What init_net's output is relative to: an upright body facing the camera, about
        # 1.6 m tall, pelvis at the box centre. A constant, not a trained parameter, and
        # not stored in weights files.
        base = BodyState(
            orient6d=facing_camera_6d(1, dtype=torch.float32, device=torch.device("cpu")),
            body_pose=torch.zeros(1, BODY_POSE_DIM), betas=torch.zeros(1, config.num_betas),
            root=torch.tensor([[DEFAULT_LOG_BODY_SIZE, 0.0, 0.0]]))
        self.register_buffer("init_base", base.flat()[0], persistent=False)

    def initial_state(self, obs: KeypointObservation,
                      obs_features: torch.Tensor | None = None) -> BodyState:
        """First guess from the keypoints alone (``[B]`` states)."""
        feats = _observation_features(obs) if obs_features is None else obs_features
        return BodyState.from_flat(self.init_net(feats) + self.init_base, self.config.num_betas)

    def warm_state(self, obs: KeypointObservation, body_pose: torch.Tensor,
                   betas: torch.Tensor) -> BodyState:
        """Start of a warm fit from a previous fit's joint rotations ``[B, 69]`` and shape.

        Joint rotations and shape are ``w * previous + (1 - w) * init network`` with
        ``w = config.warm_blend``; global orientation and position come from the init
        network alone. Why:

        * carrying the previous global orientation and position over drifted along
          sequences (MPJPE 145 mm against 96 mm for this hybrid on the benchmark's val
          sequences in session 1; PA-MPJPE 90 against 72 mm with a session-3 training
          checkpoint, 2 warm steps): a moving person's orientation and depth change the
          most between frames, while the init network estimates them well from one frame;
        * the blend is a cheap temporal filter: the previous fit and the current frame's
          estimate err differently, and the init network's joint rotations agree with its
          own orientation. With 0.8, 2 warm steps beat a 4-step cold fit on the benchmark
          sequences, where the previous fit alone (1.0) trailed it (``docs/fitting.md``).

        Axis-angle values are blended linearly: both are estimates of the same joint
        rotation, near each other and far from the wrap at pi. Training builds its tracked
        warm starts with this same method, so the update steps learn to refine exactly
        what the Fitter hands them.
        """
        fresh = self.initial_state(obs)
        w = self.config.warm_blend
        return BodyState(orient6d=fresh.orient6d,
                         body_pose=w * body_pose + (1.0 - w) * fresh.body_pose,
                         betas=w * betas + (1.0 - w) * fresh.betas, root=fresh.root)

    def frozen_for_inference(self) -> LGDNetwork:
        """An inference-only copy whose two MLPs are frozen TorchScript graphs.

        Why: at batch 1 the MLPs cost Python dispatch per operation, not arithmetic; the
        frozen graphs run the same operations in the same order (bit-identical results)
        in about half the time (the coco17 update network: 141 -> 71 us here), which is
        about a tenth of a warm fit. ``torch.jit`` is deprecated upstream but works in the
        pinned torch; if scripting fails, the copy keeps its eager MLPs and a warning says
        so. The copy's MLP weights are constants: train or export ``self``, not the copy.
        """
        twin = copy.deepcopy(self).eval()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                scripted = [torch.jit.freeze(torch.jit.script(mlp))
                            for mlp in (twin.init_net, twin.update_net)]
        except Exception as exc:  # any scripting failure: stay eager
            warnings.warn(f"TorchScript unavailable ({exc}); the fitter runs its networks "
                          "eagerly (slower at small batches)", RuntimeWarning, stacklevel=2)
            return twin
        twin.init_net, twin.update_net = scripted
        return twin

    def update(self, obs_features: torch.Tensor, state: BodyState,
               grad: BodyGradient) -> BodyState:
        """One learned step ``x + net(obs, x, grad E(x))``."""
        flat = state.flat()
        feats = torch.cat([obs_features, flat, _gradient_features(grad)], dim=-1)
        return BodyState.from_flat(flat + self.update_net(feats), self.config.num_betas)

    def forward(
        self,
        obs: KeypointObservation,
        objective: ReprojectionObjective,
        steps: int,
        init: BodyState | None = None,
        *,
        second_order: bool = False,
    ) -> tuple[list[BodyState], list[torch.Tensor]]:
        """Run the fit.

        Args:
            obs: normalised keypoints ``[B, K, ...]``.
            objective: reprojection error (and its gradient) of the format's keypoint layer.
            steps: number of update steps (a Python int: the loop is unrolled).
            init: a state to start from (warm start); None runs ``init_net``.
            second_order: let the training loss differentiate through the gradient
                features (slower); by default they are inputs without history.

        Returns:
            ``(states, errors)``: ``steps + 1`` states (the start first) and the
            reprojection error ``[B]`` at each state where a gradient was taken.
        """
        obs_features = _observation_features(obs)
        state = self.initial_state(obs, obs_features) if init is None else init
        states = [state]
        errors = []
        for _ in range(steps):
            error, grad = objective.gradient(state if second_order else state.detach(), obs)
            state = self.update(obs_features, state, grad)
            states.append(state)
            errors.append(error)
        return states, errors
