"""SMPLify-style optimisation: the classical baseline the learned fitter is measured against.

Same inputs and outputs as :class:`~lgd_ros.fitting.fitter.Fitter` (pixels, confidences,
intrinsics -> :class:`FitResult`), solved by minimising, with Adam,

    E = E_data + l_pose E_pose + l_shape |betas|^2 + l_bend E_bend

* ``E_data``: confidence-weighted Geman-McClure-robustified reprojection error in box
  units (``rho(r) = sigma^2 r^2 / (sigma^2 + r^2)`` per keypoint, as SMPLify);
* ``E_pose``: the max-mixture GMM prior fitted to the corpus (:mod:`.pose_prior`);
* ``E_bend``: SMPLify's penalty on elbows and knees bending the wrong way,
  ``exp(+-theta)^2`` on their flexion angles.

Tuned fairly: it uses the same well-conditioned parameterisation as the learned fitter
(6D global orientation, box-relative log-depth), translation initialised by similar
triangles (torso length / its image length, times the focal length), SMPLify's two
starts (the body facing towards and away from the camera, both optimised, the one with the
lower final energy kept) and its schedule: first orientation and translation only, then
everything with the prior weights decreasing stage by stage.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from lgd_ros.body import BodyModel
from lgd_ros.body.rotations import axis_angle_to_matrix
from lgd_ros.fitting.fitter import FitOptions, FitResult, make_fit_result
from lgd_ros.fitting.objective import normalized_projection, pose_body
from lgd_ros.fitting.observation import KeypointObservation, normalize_keypoints
from lgd_ros.fitting.pose_prior import PosePrior
from lgd_ros.fitting.state import BodyState, matrix_to_rotation_6d, pelvis_to_root

__all__ = ["SmplifyConfig", "SmplifyFitter"]

#: (flattened pose index, sign): elbow flexion about y and knee flexion about x in SMPL's
#: joint frames; ``exp(sign * theta)`` grows when the joint bends the unnatural way.
_BEND_TERMS: tuple[tuple[int, float], ...] = ((55, 1.0), (58, -1.0), (12, -1.0), (15, -1.0))


@dataclass(frozen=True)
class SmplifyConfig:
    """Schedule and weights. ``stage_iterations[0]`` is the orientation+translation stage;
    each later stage optimises everything with the matching prior weights.

    The prior weights were tuned on held-out views with 5 px noise (a grid over the prior
    weights 1e-6..1e-2, robust scale 0.1..0.6 box units, learning rate 0.03..0.1 and twice
    the iterations): with the first prior (pose corpus v1) the best PA-MPJPE came from the
    prior weights below, scale 0.3, learning rate 0.03 and 40/40/40/60 iterations; more
    iterations did not help then. With the prior refitted to pose corpus v2 (2.3x the
    training poses), the robust scale was tuned again (256 held-out noisy coco17 views, prior weights x1/3/10,
    scale 0.1-0.45): 0.2 gave 98 mm PA-MPJPE against 107 mm at the old 0.3, with the same
    2D error (10 px); 0.15 gave 96 mm but a 16 px 2D error and 6% failed fits. A prior
    with 10x the covariance regularisation (``tools/build_pose_prior.py --regularization
    0.01``) scored within 1-2 mm of the shipped one, so the shipped prior keeps 1e-3.
    With that prior the old schedule (40/40/40/60 iterations, learning rate 0.03) no
    longer converged: on 256 held-out coco17 views (clean / 5 px noise / 20% dropped) it
    gave PA-MPJPE 88 / 99 / 106 mm, twice the iterations 79 / 95 / 98, three times at
    learning rate 0.05 76 / 92 / 95, four times 77 / 92 / 95. The schedule below is that
    converged one, so the benchmark compares with the optimiser's best, not its budget.
    Refitted to pose corpus v3 (2.1x v2's training poses, the added ones all walking), the
    prior gave the same fits on 256 held-out noisy coco17 views (PA-MPJPE 87.4 mm with
    either prior: the mixture component that wins on them is unchanged); re-checking the
    neighbours kept scale 0.2 (0.15: 85 mm but 61 px 2D error; 0.3: 90 mm) and these prior
    weights (x3: 86.5 mm, 13 px and 4% failed; x0.3: 97 mm).
    With both facings (``both_facings``, session 9) the same views gave 81.3 mm, and the
    neighbours were checked again on their clean, noisy and dropped-keypoint versions:
    scale 0.15 / 0.175 / 0.2 averaged 78.6 / 78.1 / 78.4 mm over the three (within their
    noise, so 0.2 stays); prior weights x0.3 / x0.6 / x1.5 / x3 were 1-4 mm worse on noisy.
    """

    stage_iterations: tuple[int, ...] = (120, 120, 120, 180)
    pose_prior_weights: tuple[float, ...] = (0.0, 1e-3, 3e-4, 1e-4)
    shape_weights: tuple[float, ...] = (0.0, 1e-3, 3e-4, 1e-4)
    bend_weights: tuple[float, ...] = (0.0, 1e-3, 3e-4, 1e-4)
    learning_rate: float = 0.05
    robust_sigma: float = 0.2
    torso_length_m: float | None = None
    # SMPLify fits from the body rotated 180 degrees too and keeps the lower energy: an
    # orientation that starts facing the wrong way rarely turns round under the data
    # term. On the benchmark's 256 clean coco17 views this took PA-MPJPE from 77.9 to
    # 67.6 mm (5 px noise: 86.3 -> 79.4; 20% dropped: 93.7 -> 84.5) for twice the work.
    both_facings: bool = True


def _keypoint_index(names: tuple[str, ...], wanted: str) -> int | None:
    for i, name in enumerate(names):
        if name == wanted:
            return i
    return None


class SmplifyFitter:
    """Batched SMPLify-style fitting of one body model and keypoint format."""

    def __init__(self, body_model: BodyModel, fmt: str, *, prior: PosePrior | None = None,
                 config: SmplifyConfig | None = None,
                 options: FitOptions | None = None) -> None:
        self.body_model = body_model
        self.fmt = fmt
        self.layer = body_model.keypoint_layer(fmt)
        self.dtype = self.layer.joint_template.dtype
        self.device = self.layer.joint_template.device
        self.prior = prior if prior is not None else PosePrior.load(dtype=self.dtype,
                                                                     device=self.device)
        self.config = config if config is not None else SmplifyConfig()
        self.options = options if options is not None else FitOptions()
        names = tuple(self.layer.keypoint_names)
        self._shoulders = (_keypoint_index(names, "left_shoulder"),
                           _keypoint_index(names, "right_shoulder"))
        self._hips = (_keypoint_index(names, "left_hip"), _keypoint_index(names, "right_hip"))
        self._available = self.layer.available
        self._torso_3d = self._rest_torso_length()

    def _rest_torso_length(self) -> float:
        """Mean shoulder-midpoint to hip-midpoint distance of the mean body at rest."""
        if self.config.torso_length_m is not None:
            return self.config.torso_length_m
        if None in self._shoulders or None in self._hips:
            return 0.5
        zeros = torch.zeros(1, 72, dtype=self.dtype, device=self.device)
        out = self.layer(zeros, torch.zeros(1, 10, dtype=self.dtype, device=self.device),
                         torch.zeros(1, 3, dtype=self.dtype, device=self.device))
        kp = out.keypoints[0]
        shoulder = 0.5 * (kp[self._shoulders[0]] + kp[self._shoulders[1]])
        hip = 0.5 * (kp[self._hips[0]] + kp[self._hips[1]])
        return float((shoulder - hip).norm())

    def initial_state(self, obs: KeypointObservation, *, turned: bool = False) -> BodyState:
        """Mean pose, orientation from the shoulders, depth from similar triangles;
        ``turned``: the other facing (rotated 180 degrees about the body's vertical)."""
        b = obs.rays.shape[0]
        dtype, device = obs.rays.dtype, obs.rays.device
        rays, w = obs.rays, obs.weights > 0
        facing = torch.ones(b, dtype=torch.bool, device=device)
        depth = 1.6 / obs.box_scale  # fallback: box spans 1.6 m
        pelvis_ray = obs.box_centre
        if None not in self._shoulders and None not in self._hips:
            ls, rs = self._shoulders
            lh, rh = self._hips
            both_shoulders = w[:, ls] & w[:, rs]
            # Facing the camera, the person's left shoulder is on the image's right.
            facing = torch.where(both_shoulders, rays[:, ls, 0] >= rays[:, rs, 0], facing)
            torso_ok = both_shoulders & w[:, lh] & w[:, rh]
            shoulder = 0.5 * (rays[:, ls] + rays[:, rs])
            hip = 0.5 * (rays[:, lh] + rays[:, rh])
            torso_2d = (shoulder - hip).norm(dim=-1).clamp(min=1e-4)
            depth = torch.where(torso_ok, self._torso_3d / torso_2d, depth)
            pelvis_ray = torch.where(torso_ok[:, None], hip, pelvis_ray)
        facing = facing ^ turned
        upright = torch.tensor([torch.pi, 0.0, 0.0], dtype=dtype, device=device)
        away = torch.tensor([0.0, 0.0, torch.pi], dtype=dtype, device=device)  # pi about x, then y
        rot_front = axis_angle_to_matrix(upright)
        rot_back = axis_angle_to_matrix(away)
        rotation = torch.where(facing[:, None, None], rot_front, rot_back).expand(b, 3, 3)
        pelvis = torch.cat([pelvis_ray * depth[:, None], depth[:, None]], dim=-1)
        return BodyState(
            orient6d=matrix_to_rotation_6d(rotation).clone(),
            body_pose=torch.zeros(b, 69, dtype=dtype, device=device),
            betas=torch.zeros(b, 10, dtype=dtype, device=device),
            root=pelvis_to_root(pelvis, obs),
        )

    def _energy(self, state: BodyState, obs: KeypointObservation, stage: int) -> torch.Tensor:
        cfg = self.config
        posed = pose_body(self.layer, state, obs)
        residual = (normalized_projection(posed.keypoints) - obs.rays) / obs.box_scale[:, None,
                                                                                      None]
        sq = residual.square().sum(-1)
        sigma2 = cfg.robust_sigma**2
        robust = sigma2 * sq / (sigma2 + sq)
        data = (obs.weights * robust).sum(1) / obs.weights.sum(1).clamp(min=1e-6)
        energy = data
        if stage > 0:
            pose = torch.cat([torch.zeros_like(state.body_pose[:, :3]), state.body_pose], dim=-1)
            bend = sum(torch.exp(sign * pose[:, idx]).square() for idx, sign in _BEND_TERMS)
            energy = (energy + cfg.pose_prior_weights[stage] * self.prior.energy(state.body_pose)
                      + cfg.shape_weights[stage] * state.betas.square().sum(-1)
                      + cfg.bend_weights[stage] * bend)
        return energy

    def optimise(self, start: BodyState, obs: KeypointObservation
                 ) -> tuple[BodyState, torch.Tensor, int]:
        """Run the schedule from ``start``: the final state, its ``[B]`` energy under the
        last stage's weights, and the number of iterations."""
        params = [t.detach().clone().requires_grad_(True) for t in start.tensors()]
        iterations = 0
        for stage, n_iter in enumerate(self.config.stage_iterations):
            active = params[0:1] + params[3:4] if stage == 0 else params
            optimizer = torch.optim.Adam(active, lr=self.config.learning_rate)
            for _ in range(n_iter):
                optimizer.zero_grad(set_to_none=True)
                energy = self._energy(BodyState(*params), obs, stage).sum()
                energy.backward()
                optimizer.step()
                iterations += 1
        with torch.no_grad():
            final = BodyState(*(p.detach() for p in params))
            return final, self._energy(final, obs, len(self.config.stage_iterations) - 1), iterations

    def fit(self, keypoints: torch.Tensor, confidence: torch.Tensor,
            intrinsics: torch.Tensor) -> FitResult:
        """Fit ``keypoints [B, J, 2]`` px with ``confidence [B, J]`` and ``intrinsics``
        ``[3, 3]`` or ``[B, 3, 3]`` (inputs are trusted: this is a benchmark baseline)."""
        kp = keypoints.to(self.dtype)
        b = kp.shape[0]
        k_mat = intrinsics.to(self.dtype)
        if k_mat.dim() == 2:
            k_mat = k_mat.expand(b, 3, 3)
        obs = normalize_keypoints(kp, confidence.to(self.dtype), k_mat, self._available)
        start = self.initial_state(obs)
        if not self.config.both_facings:
            final, _, iterations = self.optimise(start, obs)
        else:
            # Both starts in one batch: samples do not interact, and one batch of 2B runs
            # faster than two of B.
            turned = self.initial_state(obs, turned=True)
            both, energy, iterations = self.optimise(
                BodyState(*(torch.cat(pair) for pair in zip(start.tensors(), turned.tensors(),
                                                            strict=True))),
                KeypointObservation(*(torch.cat([getattr(obs, f.name)] * 2)
                                      for f in fields(obs))))
            # NaN energies lose: a finite fit from either start is kept.
            energy = torch.nan_to_num(energy, nan=torch.inf)
            take_turned = energy[b:] < energy[:b]
            final = BodyState(*(torch.where(take_turned[:, None], t[b:], t[:b])
                                for t in both.tensors()))
        with torch.no_grad():
            posed = pose_body(self.layer, final, obs)
            return make_fit_result(final, posed, obs, kp, k_mat, steps=iterations, fmt=self.fmt,
                                   options=self.options)
