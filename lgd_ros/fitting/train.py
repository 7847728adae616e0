"""Train the learned fitter on synthetic views of MoCap poses.

Usage::

    python -m lgd_ros.fitting.train --fmt coco17 --out lgd_coco17.pt
    python -m lgd_ros.fitting.train --fmt blazepose33 --amass ~/amass --device cuda
    python -m lgd_ros.fitting.train --fmt coco17 --out lgd_coco17.pt --resume

Each iteration draws a batch from the pose corpus (plus AMASS with ``--amass``), renders
it with random cameras and detector-like noise (:mod:`lgd_ros.fitting.synthetic`), starts
part of the batch cold (init network) and part warm, unrolls the update steps and
minimises the loss summed over all stages (:mod:`lgd_ros.fitting.losses`).

Warm starts come in two kinds. *Tracked* ones replay a short track: a run of 1 to
``tracked_history`` earlier frames of the same clip, seen by the same camera, fitted by
the network itself (the first cold, the others warm from their predecessor), and the
trained frame warm-started from the last of them exactly as the Fitter does it
(:meth:`LGDNetwork.warm_state`). Their error is the network's own (shape, ambiguous
limbs, accumulated over the track) plus the motion, which a perturbed truth does not
imitate: weights trained only on perturbed truths refined a real previous fit worse in 2
steps than a cold fit did in 4. *Perturbed* ones start from the truth plus random noise
of random size, so a warm start that is far off (a re-acquired person, a wrong
association) still converges. A checkpoint is written every ``--checkpoint-every``
iterations next to ``--out`` (``<out>.ckpt``) and ``--resume`` continues from it
bit-for-bit (model, optimiser, schedule and random generator). The final weights file
records the body model fingerprint, keypoint format, network config, corpus version,
settings, training time and held-out (``val`` split) figures.

Poses are drawn uniformly by default, so a source's share of the batches is its share of
the corpus. ``--source-balance`` flattens that: with balance ``a`` a source of ``n``
training poses gets a share proportional to ``n ** (1 - a)`` (1 = every source equally
often). It keeps one large source (v3's 6,654 dm_control walking poses are half the
corpus) from crowding out the small ones whose motions are otherwise rare.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import torch

from lgd_ros.body import BodyModel
from lgd_ros.body.errors import BodyError
from lgd_ros.body.formats import get_keypoint_format
from lgd_ros.body.skeleton import NUM_BETAS
from lgd_ros.data import DataError
from lgd_ros.fitting.errors import FittingError, TrainingError
from lgd_ros.fitting.losses import LossWeights, ground_truth, stage_loss
from lgd_ros.fitting.metrics import mpjpe, pa_mpjpe
from lgd_ros.fitting.networks import LGDNetwork, NetworkConfig, load_grown
from lgd_ros.fitting.objective import (
    ReprojectionObjective,
    normalized_projection,
    pose_body,
)
from lgd_ros.fitting.observation import KeypointObservation, normalize_keypoints
from lgd_ros.fitting.state import BodyState
from lgd_ros.fitting.synthetic import (
    SamplerConfig,
    SyntheticBatch,
    perturbed_state,
    sample_batch,
    sample_frame_runs,
)
from lgd_ros.fitting.weights import WeightsMetadata, save_weights

__all__ = ["TrainConfig", "TrainData", "evaluate", "main", "train"]


@dataclass(frozen=True)
class TrainConfig:
    """Every training setting (the CLI options map 1:1 onto these fields).

    ``warm_fraction`` of each batch starts warm; ``tracked_fraction`` of those from the
    network's own fits of up to ``tracked_history`` earlier frames, each up to
    ``max_frame_gap`` corpus frames from the next (needs clip indices in
    :class:`TrainData`), the rest from a perturbed truth.

    ``source_balance`` in [0, 1] flattens the sources' shares of the draws (see the module
    docstring); 0 draws every training pose equally often, as before the option existed.

    ``ema_decay`` > 0 keeps an exponential moving average of the weights (Polyak
    averaging); validation and the saved weights use the average, which generalises
    better than the last iterate of a noisy small-batch run. 0 = off.
    """

    fmt: str = "coco17"
    iterations: int = 6000
    batch_size: int = 256
    lr: float = 1e-3
    lr_final_fraction: float = 0.05
    weight_decay: float = 1e-5
    width: int = 256
    init_width: int = 512
    num_blocks: int = 2
    dropout: float = 0.0
    steps: int = 4
    warm_steps: int = 2
    warm_fraction: float = 0.4
    tracked_fraction: float = 0.6
    warm_blend: float = 0.8
    tracked_history: int = 4
    max_frame_gap: int = 2
    second_order: bool = False
    grad_clip: float = 5.0
    ema_decay: float = 0.0
    source_balance: float = 0.0
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    max_minutes: float | None = None
    checkpoint_every: int = 250
    val_every: int = 1000
    val_size: int = 512
    loss: LossWeights = field(default_factory=LossWeights)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)


@dataclass(frozen=True)
class TrainData:
    """Poses to train and validate on (``[N, 72]`` float tensors) and their provenance.

    ``train_clips`` / ``val_clips`` (``[N]`` int64, optional) name each pose's clip; poses
    of a clip are consecutive and in time order. Without them there are no neighbouring
    frames, so all warm starts are perturbed truths. ``train_sources`` (``[N]`` int64,
    optional) numbers each training pose's source, named by ``source_names``; source
    balancing needs it.
    """

    train_poses: torch.Tensor
    val_poses: torch.Tensor
    corpus_version: str
    train_clips: torch.Tensor | None = None
    val_clips: torch.Tensor | None = None
    train_sources: torch.Tensor | None = None
    source_names: tuple[str, ...] = ()


def pose_draw_weights(sources: torch.Tensor | None, balance: float) -> torch.Tensor | None:
    """``[N]`` relative probability of drawing each training pose, or None for uniform.

    A pose of a source with ``n`` poses weighs ``n ** -balance``, so the source's share
    is proportional to ``n ** (1 - balance)``: 0 = uniform over poses, 1 = uniform over
    sources. None for balance 0 keeps the uniform draw's random stream (and so earlier
    runs) unchanged.

    Raises:
        TrainingError: ``balance`` outside [0, 1], or > 0 without source numbers.
    """
    if not 0.0 <= balance <= 1.0:
        raise TrainingError(f"source_balance must be in [0, 1], got {balance}")
    if balance == 0.0:
        return None
    if sources is None:
        raise TrainingError("source_balance > 0 needs the source of every training pose "
                            "(TrainData.train_sources); load_training_data provides it")
    counts = torch.bincount(sources)
    return counts[sources].to(torch.float64) ** -balance


def source_shares(sources: torch.Tensor | None, weights: torch.Tensor | None,
                  names: tuple[str, ...]) -> dict[str, float]:
    """Each source's expected share of the drawn poses (recorded in the weights file)."""
    if sources is None:
        return {}
    w = torch.ones(sources.shape[0], dtype=torch.float64) if weights is None else weights.cpu()
    totals = torch.zeros(int(sources.max()) + 1, dtype=torch.float64).index_add_(
        0, sources.cpu(), w)
    totals = totals / totals.sum()
    return {(names[i] if i < len(names) else str(i)): round(float(totals[i]), 4)
            for i in range(totals.shape[0]) if totals[i] > 0}


def _network_config(config: TrainConfig, num_keypoints: int, num_betas: int) -> NetworkConfig:
    return NetworkConfig(
        num_keypoints=num_keypoints, num_betas=num_betas, width=config.width,
        init_width=config.init_width,
        num_blocks=config.num_blocks, dropout=config.dropout, steps=config.steps,
        warm_steps=config.warm_steps, warm_blend=config.warm_blend,
    )


def _progress(config: TrainConfig, iteration: int, elapsed_s: float) -> float:
    """Fraction of the run done: by iterations, or by wall time with ``max_minutes``."""
    done = iteration / max(1, config.iterations)
    if config.max_minutes is not None:
        done = max(done, elapsed_s / (60.0 * config.max_minutes))
    return done


def _lr_factor(config: TrainConfig, iteration: int, progress: float) -> float:
    """Cosine decay from 1 to ``lr_final_fraction`` over ``progress``, short linear warm-up."""
    warmup = max(1, min(200, config.iterations // 20))
    if iteration < warmup:
        return (iteration + 1) / warmup
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.lr_final_fraction + (1 - config.lr_final_fraction) * cosine


def evaluate(
    network: LGDNetwork,
    objective: ReprojectionObjective,
    poses: torch.Tensor,
    *,
    size: int,
    seed: int,
    steps: int,
    sampler: SamplerConfig | None = None,
    num_betas: int = 10,
    warm: bool = False,
    clips: torch.Tensor | None = None,
    history: int = 1,
    max_frame_gap: int = 2,
) -> dict[str, float]:
    """Held-out figures of ``network`` on ``size`` synthetic views of ``poses``.

    Returns MPJPE and PA-MPJPE of the 24 joints (mm), 2D error of the available
    keypoints against the clean projections (px), and depth error (%), for a cold fit,
    a warm one from a perturbed truth with ``warm``, or with ``warm`` and ``clips`` a
    tracked one: after the network's own fits of ``history`` earlier frames
    (:func:`tracked_start`), with ``steps`` steps on each warm-started frame.
    """
    layer = objective.layer
    sampler = sampler if sampler is not None else SamplerConfig()
    gen = torch.Generator(device=poses.device).manual_seed(seed)
    was_training = network.training
    network.eval()
    available = layer.available.to(poses.device)
    idx = torch.randint(0, poses.shape[0], (size,), generator=gen, device=poses.device)
    with torch.no_grad():
        if warm and clips is not None:
            *earlier, batch = sample_frame_runs(
                poses, clips, layer, size, gen, sampler, length=history + 1,
                num_betas=num_betas, max_gap=max_frame_gap, indices=idx)
            obs = normalize_keypoints(batch.keypoints_px, batch.confidence, batch.intrinsics,
                                      available)
            init = tracked_start(network, objective, earlier, obs, available,
                                 warm_steps=steps)
        else:
            batch = sample_batch(poses, layer, size, gen, sampler, num_betas=num_betas,
                                 indices=idx)
            obs = normalize_keypoints(batch.keypoints_px, batch.confidence, batch.intrinsics,
                                      available)
            init = perturbed_state(batch, obs, gen) if warm else None
        states, _ = network(obs, objective, steps, init=init)
        posed = pose_body(layer, states[-1], obs)
    network.train(was_training)
    mask = batch.usable
    fx = batch.intrinsics[:, 0, 0]
    err2d = (normalized_projection(posed.keypoints) - normalized_projection(batch.keypoints3d))
    err2d_px = err2d.norm(dim=-1) * fx[:, None]
    # Only keypoints the model has and the image shows (others are unconstrained).
    image_size = batch.image_size[:, None, :]
    shown = (available[None, :] & (batch.clean_px >= 0).all(-1)
             & (batch.clean_px < image_size).all(-1)).to(err2d_px.dtype)
    err2d_px = (err2d_px * shown).sum(1) / shown.sum(1).clamp(min=1.0)
    depth_err = (posed.pelvis[:, 2] - batch.pelvis[:, 2]).abs() / batch.pelvis[:, 2]
    return {
        "mpjpe_mm": float(mpjpe(posed.joints, batch.joints)[mask].mean() * 1000),
        "pa_mpjpe_mm": float(pa_mpjpe(posed.joints, batch.joints)[mask].mean() * 1000),
        "error_2d_px": float(err2d_px[mask].mean()),
        "depth_error_pct": float(depth_err[mask].mean() * 100),
    }


def tracked_start(network: LGDNetwork, objective: ReprojectionObjective,
                  earlier: list[SyntheticBatch], obs: KeypointObservation,
                  available: torch.Tensor, *, warm_steps: int) -> BodyState:
    """Warm start for ``obs`` after the network has tracked the ``earlier`` frames.

    The first earlier frame is fitted cold, each later one warm from its predecessor
    with ``warm_steps`` steps, and the start for ``obs`` is built from the last fit the
    way the Fitter builds it (:meth:`LGDNetwork.warm_state`). Nothing is
    back-propagated into the track: a tracker's previous frames are given.
    """
    with torch.no_grad():
        fit: BodyState | None = None
        for frame in earlier:
            frame_obs = normalize_keypoints(frame.keypoints_px, frame.confidence,
                                            frame.intrinsics, available)
            if fit is None:
                states, _ = network(frame_obs, objective, network.config.steps)
            else:
                start = network.warm_state(frame_obs, fit.body_pose, fit.betas)
                states, _ = network(frame_obs, objective, warm_steps, init=start)
            fit = states[-1]
        if fit is None:
            raise ValueError("tracked_start needs at least one earlier frame")
        return network.warm_state(obs, fit.body_pose, fit.betas)


def _checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name + ".ckpt")


def train(
    config: TrainConfig,
    data: TrainData,
    body_model: BodyModel,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    body_model_path: str | None = None,
    init_from: str | Path | None = None,
) -> Path:
    """Train, write ``out`` (weights with metadata) and return its path.

    ``init_from`` starts from the parameters of another weights file with the same network
    config (e.g. to fine-tune weights for a new body model in a fraction of the time).

    Raises:
        TrainingError: empty pose sets, unknown device, or a checkpoint that does not
            match ``config``.
    """
    out = Path(out)
    if data.train_poses.shape[0] == 0 or data.val_poses.shape[0] == 0:
        raise TrainingError(
            f"need training and validation poses, got {data.train_poses.shape[0]} train and "
            f"{data.val_poses.shape[0]} val"
        )
    try:
        device = torch.device(config.device)
        torch.empty(1, device=device)
    except (RuntimeError, AssertionError) as exc:
        raise TrainingError(f"cannot use device {config.device!r}: {exc}") from exc
    if not 0.0 <= config.warm_blend <= 1.0:
        raise TrainingError(f"warm_blend must be in [0, 1], got {config.warm_blend}")
    # Checked before the network is built; augment_poses would refuse them only at the
    # first batch, after the set-up.
    if not 0.0 <= config.sampler.recombine_probability <= 1.0:
        raise TrainingError("recombine_probability must be in [0, 1], got "
                            f"{config.sampler.recombine_probability}")
    if not config.sampler.perturb_std_deg >= 0.0:
        raise TrainingError(f"perturb_std_deg must be >= 0, got {config.sampler.perturb_std_deg}")
    if config.threads is not None:
        torch.set_num_threads(config.threads)
    body_model = body_model.to(device)
    layer = body_model.keypoint_layer(config.fmt)
    objective = ReprojectionObjective(body_model, config.fmt)
    num_betas = NUM_BETAS
    fmt = get_keypoint_format(config.fmt)
    net_config = _network_config(config, fmt.num_keypoints, num_betas)
    train_poses = data.train_poses.to(device=device, dtype=torch.float32)
    val_poses = data.val_poses.to(device=device, dtype=torch.float32)
    train_clips = data.train_clips.to(device) if data.train_clips is not None else None
    draw_weights = pose_draw_weights(data.train_sources, config.source_balance)
    if draw_weights is not None:
        draw_weights = draw_weights.to(device)
    val_clips = data.val_clips.to(device) if data.val_clips is not None else None
    available = layer.available.to(device)

    torch.manual_seed(config.seed)
    network = LGDNetwork(net_config).to(device)
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.lr,
                                  weight_decay=config.weight_decay)
    gen = torch.Generator(device=device).manual_seed(config.seed)
    if init_from is not None and not resume:
        from lgd_ros.fitting.weights import load_weights

        source, _ = load_weights(init_from, expected_fingerprint=None, expected_format=config.fmt,
                                 map_location=device)
        try:
            load_grown(network, source)
        except ValueError as exc:
            raise TrainingError(
                f"--init-from {init_from}: its network {source.config.to_dict()} does not fit "
                f"the requested {net_config.to_dict()} ({exc}); only --blocks may be larger"
            ) from exc
    average = _weight_average(network, config.ema_decay)
    start_iteration = 0
    elapsed_before = 0.0
    ckpt_path = _checkpoint_path(out)
    if resume:
        if not ckpt_path.is_file():
            raise TrainingError(f"--resume: no checkpoint at {ckpt_path}")
        ckpt = torch.load(ckpt_path, map_location=device, weights_only=False)
        if ckpt["network_config"] != net_config.to_dict() or ckpt["fmt"] != config.fmt:
            raise TrainingError(
                f"checkpoint {ckpt_path} was made with network {ckpt['network_config']} for "
                f"{ckpt['fmt']!r}; the current settings give {net_config.to_dict()} for "
                f"{config.fmt!r}. Use the same options or start without --resume."
            )
        network.load_state_dict(ckpt["network"])
        if average is not None and ckpt.get("average") is not None:
            average.load_state_dict(ckpt["average"])
        optimizer.load_state_dict(ckpt["optimizer"])
        gen.set_state(ckpt["generator"].to("cpu") if device.type == "cpu" else ckpt["generator"])
        torch.set_rng_state(ckpt["torch_rng"])
        start_iteration = int(ckpt["iteration"])
        elapsed_before = float(ckpt["elapsed_s"])

    def save_checkpoint(iteration: int, elapsed: float) -> None:
        ckpt_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = ckpt_path.with_name(ckpt_path.name + ".tmp")
        torch.save({
            "network": network.state_dict(), "optimizer": optimizer.state_dict(),
            "average": average.state_dict() if average is not None else None,
            "generator": gen.get_state(),
            "torch_rng": torch.get_rng_state(), "iteration": iteration, "elapsed_s": elapsed,
            "network_config": net_config.to_dict(), "fmt": config.fmt,
            "train_config": _config_dict(config),
        }, tmp)
        tmp.replace(ckpt_path)

    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.iterations, initial=start_iteration, desc=f"train {config.fmt}",
                   dynamic_ncols=True, file=sys.stderr, mininterval=5.0)
    network.train()
    t0 = time.perf_counter()
    history: list[dict[str, float]] = []
    done = start_iteration
    for iteration in range(start_iteration, config.iterations):
        progress_fraction = _progress(config, iteration,
                                      elapsed_before + time.perf_counter() - t0)
        if progress_fraction >= 1.0:
            break
        for group in optimizer.param_groups:
            group["lr"] = config.lr * _lr_factor(config, iteration, progress_fraction)
        batch, obs, start, warm = _training_starts(
            network, objective, config, train_poses, train_clips, layer, available, gen,
            draw_weights)
        gt = ground_truth(batch, obs, available)
        states, _ = network(obs, objective, config.steps, init=start,
                            second_order=config.second_order)
        total, terms = stage_loss(layer, states[0], obs, gt, config.loss,
                                  sample_mask=(~warm).to(total_dtype(obs)))
        for state in states[1:]:
            step_total, terms = stage_loss(layer, state, obs, gt, config.loss)
            total = total + step_total
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        torch.nn.utils.clip_grad_norm_(network.parameters(), config.grad_clip)
        optimizer.step()
        if average is not None:
            average.update_parameters(network)
        done = iteration + 1
        if bar is not None:
            bar.update(1)
            if done % 50 == 0:
                bar.set_postfix(loss=f"{float(total):.4f}", mm=f"{float(terms['3d']) * 1000:.0f}",
                                refresh=False)
        if done % config.checkpoint_every == 0:
            save_checkpoint(done, elapsed_before + time.perf_counter() - t0)
        if config.val_every > 0 and (done % config.val_every == 0 or done == config.iterations):
            figures = evaluate(_evaluated(network, average), objective, val_poses, size=config.val_size, seed=12345,
                               steps=config.steps, sampler=config.sampler, num_betas=num_betas)
            figures["iteration"] = float(done)
            message = (f"[val {done}] MPJPE {figures['mpjpe_mm']:.1f} mm, PA-MPJPE "
                       f"{figures['pa_mpjpe_mm']:.1f} mm, 2D {figures['error_2d_px']:.2f} px, "
                       f"depth {figures['depth_error_pct']:.1f}%")
            if val_clips is not None:
                tracked = evaluate(
                    _evaluated(network, average), objective, val_poses, size=config.val_size,
                    seed=12346, steps=config.warm_steps, sampler=config.sampler,
                    num_betas=num_betas, warm=True, clips=val_clips,
                    history=config.tracked_history, max_frame_gap=config.max_frame_gap)
                figures["tracked_pa_mpjpe_mm"] = tracked["pa_mpjpe_mm"]
                message += (f"; tracked, {config.warm_steps} warm steps: PA-MPJPE "
                            f"{tracked['pa_mpjpe_mm']:.1f} mm")
            history.append(figures)
            if bar is not None:
                bar.write(message)
            else:
                print(message, flush=True)
    if bar is not None:
        bar.close()
    elapsed = elapsed_before + time.perf_counter() - t0
    save_checkpoint(done, elapsed)
    if average is not None:
        network = average.module
    network.eval()
    cold = evaluate(network, objective, val_poses, size=config.val_size, seed=777, steps=config.steps,
                    sampler=config.sampler, num_betas=num_betas)
    warm_fig = evaluate(network, objective, val_poses, size=config.val_size, seed=778,
                        steps=config.warm_steps, sampler=config.sampler, num_betas=num_betas,
                        warm=True)
    metrics: dict[str, Any] = {"val_cold": cold, "val_warm": warm_fig}
    if val_clips is not None:
        metrics["val_tracked"] = evaluate(
            network, objective, val_poses, size=config.val_size, seed=779,
            steps=config.warm_steps, sampler=config.sampler, num_betas=num_betas, warm=True,
            clips=val_clips, history=config.tracked_history, max_frame_gap=config.max_frame_gap)
    meta = WeightsMetadata(
        keypoint_format=config.fmt,
        body_model_fingerprint=body_model.fingerprint,
        body_model_name=str(getattr(body_model, "name", "")),
        network=net_config,
        corpus_version=data.corpus_version,
        train={
            "settings": _config_dict(config),
            "iterations": done,
            "wall_time_s": round(elapsed, 1),
            "device": str(device),
            "threads": torch.get_num_threads(),
            "torch": str(torch.__version__),
            "body_model_path": body_model_path or "default",
            "init_from": str(init_from) if init_from is not None else None,
            "source_shares": source_shares(data.train_sources, draw_weights,
                                           data.source_names),
        },
        metrics={**metrics, "history": history},
    )
    return save_weights(out, network, meta)


def _training_starts(
    network: LGDNetwork, objective: ReprojectionObjective, config: TrainConfig,
    poses: torch.Tensor, clips: torch.Tensor | None, layer: torch.nn.Module,
    available: torch.Tensor, gen: torch.Generator, draw_weights: torch.Tensor | None = None,
) -> tuple[SyntheticBatch, KeypointObservation, BodyState, torch.Tensor]:
    """One training batch, its observation, its start states and its warm mask ``[B]``.

    Layout: first the cold and perturbed-warm samples, then the tracked ones (see the
    module docstring); the proportions follow ``warm_fraction`` and ``tracked_fraction``.
    Poses (the current frames of tracked samples) are drawn with ``draw_weights``
    (:func:`pose_draw_weights`), uniformly when None.
    """

    def draw(count: int) -> torch.Tensor | None:
        if draw_weights is None:
            return None  # the samplers' own uniform draw
        return torch.multinomial(draw_weights, count, replacement=True, generator=gen)

    b = config.batch_size
    device = poses.device
    tracked = 0
    if clips is not None:
        tracked = min(b, round(b * config.warm_fraction * config.tracked_fraction))
    untracked = b - tracked
    perturbed_rate = (config.warm_fraction * b - tracked) / max(1, untracked)
    parts = []
    if untracked:
        parts.append(sample_batch(poses, layer, untracked, gen, config.sampler,
                                  num_betas=network.config.num_betas, indices=draw(untracked)))
    earlier: list[SyntheticBatch] = []
    if tracked:
        history = int(torch.randint(1, config.tracked_history + 1, (1,), generator=gen,
                                    device=device))
        *earlier, current = sample_frame_runs(
            poses, clips, layer, tracked, gen, config.sampler, length=history + 1,
            num_betas=network.config.num_betas, max_gap=config.max_frame_gap,
            indices=draw(tracked))
        parts.append(current)
    batch = parts[0] if len(parts) == 1 else SyntheticBatch.concatenate(parts)
    obs = normalize_keypoints(batch.keypoints_px, batch.confidence, batch.intrinsics, available)
    warm = torch.rand(b, generator=gen, device=device) < perturbed_rate
    scale = 0.3 + 1.2 * torch.rand(b, generator=gen, device=device)
    start = perturbed_state(batch, obs, gen, scale=scale).where(warm, network.initial_state(obs))
    if earlier:
        tail = slice(untracked, b)
        tail_obs = KeypointObservation(*(getattr(obs, f.name)[tail]
                                         for f in fields(KeypointObservation)))
        followed = tracked_start(network, objective, earlier, tail_obs, available,
                                 warm_steps=config.warm_steps)
        start = BodyState(*(torch.cat([a[:untracked], c]) for a, c in zip(
            start.tensors(), followed.tensors(), strict=True)))
        warm = torch.cat([warm[:untracked], torch.ones(tracked, dtype=torch.bool,
                                                       device=device)])
    return batch, obs, start, warm


def _weight_average(network: LGDNetwork, decay: float) -> Any:
    """An exponential moving average of ``network``'s weights, or None for ``decay`` 0."""
    if not 0.0 <= decay < 1.0:
        raise TrainingError(f"ema_decay must be in [0, 1), got {decay}")
    if decay == 0.0:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(decay))


def _evaluated(network: LGDNetwork, average: Any) -> LGDNetwork:
    """The weights validation measures: the average when one is kept."""
    return network if average is None else average.module


def total_dtype(obs: Any) -> torch.dtype:
    """dtype of an observation's tensors (for masks)."""
    return obs.rays.dtype


def _config_dict(config: TrainConfig) -> dict[str, Any]:
    """Plain-type dict of the config (nested dataclasses included)."""
    def plain(value: Any) -> Any:
        if isinstance(value, tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value
    return plain(asdict(config))


def load_training_data(amass: str | None = None, corpus: str | None = None) -> TrainData:
    """Train/val poses from the pose corpus, plus AMASS clips if given.

    AMASS clips go through the same corpus builder as the open clips (heading removed,
    near-duplicates dropped, mirrored, split into train/val by clip), so their held-out
    clips join the validation set instead of leaking frames into training.
    """
    from lgd_ros.data import load_pose_corpus

    pose_corpus = load_pose_corpus(corpus)
    train_poses, train_clips = _split_with_clips(pose_corpus, "train")
    val_poses, val_clips = _split_with_clips(pose_corpus, "val")
    version = str(pose_corpus.version)
    names: list[str] = []
    train_sources = _source_numbers(pose_corpus, train_clips, names)
    if amass is not None:
        amass_corpus = _load_amass_corpus(Path(amass))
        extra_train, extra_train_clips = _split_with_clips(amass_corpus, "train")
        extra_val, extra_val_clips = _split_with_clips(amass_corpus, "val")
        # Clip numbers after the corpus's own, so no AMASS clip joins an open one.
        offset = len(pose_corpus.clips)
        train_poses = torch.cat([train_poses, extra_train])
        val_poses = torch.cat([val_poses, extra_val])
        train_clips = torch.cat([train_clips, extra_train_clips + offset])
        val_clips = torch.cat([val_clips, extra_val_clips + offset])
        train_sources = torch.cat([train_sources,
                                   _source_numbers(amass_corpus, extra_train_clips, names)])
        version += f"+amass({extra_train.shape[0]} train, {extra_val.shape[0]} val poses)"
    return TrainData(train_poses=train_poses, val_poses=val_poses, corpus_version=version,
                     train_clips=train_clips, val_clips=val_clips, train_sources=train_sources,
                     source_names=tuple(names))


def _source_numbers(corpus: Any, clips: torch.Tensor, names: list[str]) -> torch.Tensor:
    """``[N]`` number of each pose's source in ``names`` (new sources are appended)."""
    numbers = []
    for info in corpus.clips:
        name = info.source
        if name not in names:
            names.append(name)
        numbers.append(names.index(name))
    return torch.as_tensor(numbers, dtype=torch.long)[clips]


def _split_with_clips(corpus: Any, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """``[N, 72]`` float32 poses of one split and ``[N]`` int64 clip number of each."""
    mask = corpus.split_mask(split)
    poses = torch.as_tensor(corpus.poses[mask], dtype=torch.float32)
    return poses, torch.as_tensor(corpus.clip_index[mask], dtype=torch.long)


def _load_amass_corpus(folder: Path) -> Any:
    """The AMASS ``.npz`` clips under ``folder`` as a corpus (30 fps, clip-wise split)."""
    from lgd_ros.data import DataError, build_corpus_from_sequences
    from lgd_ros.data.amass import iter_amass_directory

    if not folder.is_dir():
        raise TrainingError(f"--amass: {folder} is not a directory")
    try:
        amass_corpus = build_corpus_from_sequences(
            iter_amass_directory(folder, target_fps=30.0, skip_invalid=True), target_fps=30.0,
            version="amass")
    except DataError as exc:
        raise TrainingError(f"--amass: cannot read AMASS clips under {folder}: {exc}") from exc
    if amass_corpus.num_poses == 0:
        raise TrainingError(f"--amass: no AMASS clips found under {folder}")
    return amass_corpus


def build_parser() -> argparse.ArgumentParser:
    """CLI options (one per :class:`TrainConfig` field that users tune)."""
    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m lgd_ros.fitting.train",
        description="Train learned-gradient-descent fitting networks for one keypoint format.",
    )
    parser.add_argument("--fmt", default=defaults.fmt, help="keypoint format (default %(default)s)")
    parser.add_argument("--out", type=Path, default=None,
                        help="weights file to write (default lgd_<fmt>.pt); its checkpoint is "
                             "<out>.ckpt")
    parser.add_argument("--body-model", default=None,
                        help="body model file (SMPL .pkl/.npz); default: the open default model")
    parser.add_argument("--amass", default=None, help="folder of AMASS .npz clips to add")
    parser.add_argument("--corpus", default=None, help="pose corpus file (default: shipped)")
    parser.add_argument("--iterations", type=int, default=defaults.iterations)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--lr", type=float, default=defaults.lr)
    parser.add_argument("--width", type=int, default=defaults.width,
                        help="update network width (default %(default)s)")
    parser.add_argument("--init-width", type=int, default=defaults.init_width,
                        help="init network width (default %(default)s)")
    parser.add_argument("--blocks", type=int, default=defaults.num_blocks)
    parser.add_argument("--dropout", type=float, default=defaults.dropout)
    parser.add_argument("--steps", type=int, default=defaults.steps, help="update steps (cold)")
    parser.add_argument("--warm-steps", type=int, default=defaults.warm_steps)
    parser.add_argument("--warm-fraction", type=float, default=defaults.warm_fraction,
                        help="share of each batch started warm (default %(default)s)")
    parser.add_argument("--tracked-fraction", type=float, default=defaults.tracked_fraction,
                        help="share of the warm starts taken from the network's own fit of a "
                             "neighbouring frame; the rest start from a perturbed truth "
                             "(default %(default)s)")
    parser.add_argument("--warm-blend", type=float, default=defaults.warm_blend,
                        help="weight of the previous fit's joint rotations and shape in a warm "
                             "start, the rest from the init network (default %(default)s; "
                             "stored in the weights)")
    parser.add_argument("--tracked-history", type=int, default=defaults.tracked_history,
                        help="most earlier frames a tracked warm start has been fitted on "
                             "(default %(default)s)")
    parser.add_argument("--max-frame-gap", type=int, default=defaults.max_frame_gap,
                        help="largest distance in corpus frames between a tracked warm start's "
                             "frame and the fitted one (default %(default)s)")
    sampler = defaults.sampler
    parser.add_argument("--max-noise-px", type=float, default=sampler.noise_px[1],
                        help="largest keypoint noise in pixels, on top of the part that grows "
                             "with the person's size (default %(default)s)")
    parser.add_argument("--dropout-probability", type=float,
                        default=sampler.dropout_sample_probability,
                        help="share of samples that lose random keypoints (default "
                             "%(default)s)")
    parser.add_argument("--max-dropout", type=float, default=sampler.dropout_rate[1],
                        help="largest share of keypoints such a sample loses (default "
                             "%(default)s)")
    parser.add_argument("--recombine-probability", type=float,
                        default=sampler.recombine_probability,
                        help="share of training poses that take one limb group from another "
                             "pose of the batch (default %(default)s; less with a large "
                             "corpus such as AMASS)")
    parser.add_argument("--perturb-std-deg", type=float, default=sampler.perturb_std_deg,
                        help="joint-rotation noise of the pose augmentation, degrees, kept "
                             "within joint limits (default %(default)s)")
    parser.add_argument("--second-order", action="store_true",
                        help="back-propagate through the gradient (slower)")
    parser.add_argument("--ema", type=float, default=defaults.ema_decay, metavar="DECAY",
                        help="keep a moving average of the weights with this decay (e.g. 0.999) and "
                             "save it instead of the last iterate (default 0 = off)")
    parser.add_argument("--source-balance", type=float, default=defaults.source_balance,
                        metavar="A",
                        help="flatten the corpus sources' shares of the drawn poses: a source "
                             "of n poses gets a share proportional to n**(1-A); 0 = every pose "
                             "equally often, 1 = every source equally often (default "
                             "%(default)s)")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--device", default=defaults.device, help="cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--max-minutes", type=float, default=None,
                        help="wall-time budget: the learning-rate schedule follows whichever of "
                             "iterations and time runs out first")
    parser.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    parser.add_argument("--val-every", type=int, default=defaults.val_every)
    parser.add_argument("--val-size", type=int, default=defaults.val_size)
    parser.add_argument("--resume", action="store_true", help="continue from <out>.ckpt")
    parser.add_argument("--init-from", default=None,
                        help="start from these weights (same network options, or more "
                             "--blocks: new blocks start as the identity), e.g. to fine-tune "
                             "for another body model or to grow the network")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Map parsed CLI options onto :class:`TrainConfig`."""
    return replace(
        TrainConfig(), fmt=args.fmt, iterations=args.iterations, batch_size=args.batch_size,
        lr=args.lr, width=args.width, init_width=args.init_width, num_blocks=args.blocks, dropout=args.dropout,
        steps=args.steps, warm_steps=args.warm_steps, warm_fraction=args.warm_fraction,
        tracked_fraction=args.tracked_fraction, warm_blend=args.warm_blend,
        tracked_history=args.tracked_history,
        max_frame_gap=args.max_frame_gap,
        second_order=args.second_order, ema_decay=args.ema,
        source_balance=args.source_balance, seed=args.seed, device=args.device,
        threads=args.threads, max_minutes=args.max_minutes, checkpoint_every=args.checkpoint_every, val_every=args.val_every,
        val_size=args.val_size,
        sampler=replace(SamplerConfig(), noise_px=(0.0, args.max_noise_px),
                        dropout_sample_probability=args.dropout_probability,
                        dropout_rate=(0.0, args.max_dropout),
                        recombine_probability=args.recombine_probability,
                        perturb_std_deg=args.perturb_std_deg),
    )


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; returns the process exit code."""
    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    out = args.out if args.out is not None else Path(f"lgd_{config.fmt}.pt")
    try:
        get_keypoint_format(config.fmt)
        body_model = BodyModel.load(args.body_model)
        data = load_training_data(args.amass, args.corpus)
        path = train(config, data, body_model, out, resume=args.resume,
                     progress=not args.no_progress, body_model_path=args.body_model,
                     init_from=args.init_from)
    except (FittingError, BodyError, DataError, KeyError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
