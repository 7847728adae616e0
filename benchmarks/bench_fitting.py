"""Benchmark: learned gradient descent (LGD) against SMPLify-style optimisation.

Held-out poses (corpus ``val`` clips, never trained on) are seen by random pinhole cameras
(:mod:`lgd_ros.fitting.synthetic`) and fitted from their 2D keypoints under three input
conditions: clean, noisy (5 px Gaussian noise) and occluded (20% of the visible keypoints
dropped). Methods: LGD cold start at every step count (0 = the init network alone), LGD
warm-started on sequences (consecutive frames of val clips, one camera per sequence,
the previous frame's fit as ``init``), and the SMPLify-style baseline
(:mod:`lgd_ros.fitting.smplify`) at its full schedule and at shorter ones.

Prints a markdown table (errors in mm / px, time per fit at batch 1, throughput at batch
64, ratios against the baseline measured in the same run, with a paired bootstrap interval),
then where the error is: per-view quantiles, per held-out motion, shape against pose and
per joint group. It writes it all to
``docs/benchmarks/fitting.md`` plus the error-vs-time plot
``docs/images/fitting_error_vs_time.png`` (with ``--write-docs``).

Usage::

    python -m benchmarks.bench_fitting [--fmt coco17] [--num 256] [--write-docs]

A cross-check on other poses: ``--held-out-source cmu_dm_control --weights OLD.pt --prior
OLD_PRIOR.npz`` evaluates on one corpus source's clips instead of ``val``. Those clips are
held out only for weights and a prior built before they entered the corpus, so the run is
refused when either records the current corpus version.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lgd_ros.body import SMPL_JOINT_NAMES, BodyModel
from lgd_ros.data import PoseCorpus, load_pose_corpus
from lgd_ros.fitting import FitResult, Fitter
from lgd_ros.fitting.metrics import mpjpe, pa_mpjpe, procrustes_align
from lgd_ros.fitting.pose_prior import PosePrior, default_pose_prior_path
from lgd_ros.fitting.smplify import SmplifyFitter
from lgd_ros.fitting.synthetic import SyntheticBatch, sample_batch

CONDITIONS = ("clean", "noisy", "occluded")


@dataclass
class Row:
    method: str
    condition: str
    mpjpe_mm: float
    pa_mpjpe_mm: float
    error_2d_px: float
    success_pct: float
    ms_per_fit: float
    fits_per_s: float | None
    steps: int | None = None
    # PA-MPJPE (mm) of every usable view, in batch order: the paired bootstrap of the ratio.
    per_view_pa_mm: torch.Tensor | None = None


def degrade(batch: SyntheticBatch, condition: str, gen: torch.Generator
            ) -> tuple[torch.Tensor, torch.Tensor]:
    """Keypoints and confidences of ``batch`` (a ``clean=True`` batch) under ``condition``."""
    kp = batch.keypoints_px.clone()
    conf = batch.confidence.clone()
    if condition == "noisy":
        kp = kp + 5.0 * torch.randn(kp.shape, generator=gen)
    elif condition == "occluded":
        drop = torch.rand(conf.shape, generator=gen) < 0.2
        conf = conf * (~drop).to(conf.dtype)
    kp = torch.where(conf[..., None] > 0, kp, torch.zeros_like(kp))
    return kp, conf


def scores(result: FitResult, batch: SyntheticBatch, available: torch.Tensor
           ) -> tuple[float, float, float, float]:
    """MPJPE, PA-MPJPE (mm, 24 joints), 2D error vs clean projections (px), success %."""
    ok = batch.usable
    # Keypoints the model has and the image shows (a clean batch's confidence is 1 there).
    shown = (batch.confidence > 0) & available[None, :]
    dist = (result.keypoints2d - batch.clean_px).norm(dim=-1)
    err2d = (dist * shown).sum(1) / shown.sum(1).clamp(min=1)
    return (
        float(mpjpe(result.joints, batch.joints)[ok].mean() * 1000),
        float(per_view_pa_mm(result, batch).mean()),
        float(err2d[ok].mean()),
        float(result.success[ok].float().mean() * 100),
    )


def per_view_pa_mm(result: FitResult, batch: SyntheticBatch) -> torch.Tensor:
    """``[usable views]`` PA-MPJPE in mm, in batch order."""
    return pa_mpjpe(result.joints, batch.joints)[batch.usable] * 1000


def ratio_interval(ours: torch.Tensor, theirs: torch.Tensor, resamples: int = 2000,
                   seed: int = 0) -> tuple[float, float]:
    """95% paired-bootstrap interval of ``mean(ours) / mean(theirs)`` over the views.

    Both methods fit the same views, so each resample draws views, not errors, and keeps
    the pairs: the interval shows how much the ratio owes to which cameras and poses were
    drawn. It cannot show how much it owes to which motions were held out (four clips).
    """
    if ours.shape != theirs.shape or ours.ndim != 1 or ours.numel() == 0:
        raise ValueError(f"need two equal non-empty [N] tensors, got {tuple(ours.shape)} "
                         f"and {tuple(theirs.shape)}")
    gen = torch.Generator().manual_seed(seed)
    pick = torch.randint(0, ours.numel(), (resamples, ours.numel()), generator=gen)
    ratios = ours.double()[pick].mean(1) / theirs.double()[pick].mean(1)
    low, high = torch.quantile(ratios, torch.tensor([0.025, 0.975], dtype=torch.float64))
    return float(low), float(high)


def median_ms(fn: Callable[[], object], repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times) * 1000)


def fit_in_chunks(fit: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], FitResult],
                  kp: torch.Tensor, conf: torch.Tensor, intrinsics: torch.Tensor,
                  chunk: int = 64) -> FitResult:
    parts = [fit(kp[i:i + chunk], conf[i:i + chunk], intrinsics[i:i + chunk])
             for i in range(0, kp.shape[0], chunk)]
    return FitResult.concatenate(parts)


def sequences(corpus_poses: torch.Tensor, clip_index: torch.Tensor, val_mask: torch.Tensor,
              num: int, length: int, gen: torch.Generator) -> list[torch.Tensor]:
    """Index tensors of ``num`` runs of ``length`` consecutive val poses within one clip."""
    starts = []
    val_idx = torch.nonzero(val_mask).flatten()
    for i in val_idx.tolist():
        end = i + length - 1
        if end < len(clip_index) and bool(val_mask[end]) and clip_index[end] == clip_index[i]:
            starts.append(i)
    if not starts:
        return []
    pick = torch.randperm(len(starts), generator=gen)[:num]
    return [torch.arange(starts[int(p)], starts[int(p)] + length) for p in pick]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fmt", default="coco17")
    parser.add_argument("--weights", default=None, help="LGD weights (default: shipped)")
    parser.add_argument("--num", type=int, default=256, help="held-out views per condition")
    parser.add_argument("--sequences", type=int, default=256,
                        help="val sequences for the warm-start rows, at most (default "
                             "%(default)s; the val clips hold about 230 of 16 frames)")
    parser.add_argument("--sequence-length", type=int, default=16)
    parser.add_argument("--time-repeats", type=int, default=50, help="batch-1 LGD timings")
    parser.add_argument("--baseline-time-repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--write-docs", action="store_true",
                        help="write docs/benchmarks/fitting.md and the plot")
    parser.add_argument("--held-out-source", default=None, metavar="SOURCE",
                        help="evaluate on this corpus source's clips instead of the val split "
                             "(e.g. cmu_dm_control, for weights and a prior from before it "
                             "entered the corpus)")
    parser.add_argument("--train-source", default=None, metavar="SOURCE",
                        help="evaluate on the training split of this corpus source instead: "
                             "poses the baseline's prior was fitted on, and the LGD weights "
                             "trained on if their corpus version held the source "
                             "(docs/pose_corpus.md); how each method does on data it learned "
                             "from, not a held-out figure")
    parser.add_argument("--prior", default=None,
                        help="the baseline's pose prior file (default: shipped)")
    args = parser.parse_args(argv)
    if args.write_docs and (args.held_out_source or args.prior or args.train_source):
        parser.error("--write-docs documents the shipped setup: drop --held-out-source/"
                     "--train-source/--prior")
    if args.held_out_source and args.train_source:
        parser.error("give --held-out-source or --train-source, not both")
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    fitter = Fitter.load(args.weights, fmt=args.fmt)
    layer = fitter.layer
    available = layer.available
    prior = None if args.prior is None else PosePrior.load(args.prior)
    baseline = SmplifyFitter(fitter.body_model, args.fmt, prior=prior)
    corpus = load_pose_corpus()
    val_mask = corpus.split_mask("val")
    if args.held_out_source is not None:
        val_mask = held_out_source_mask(corpus, args.held_out_source, fitter.meta.corpus_version,
                                        prior_corpus_version(args.prior))
    if args.train_source is not None:
        val_mask = train_source_mask(corpus, args.train_source)
    val_poses = corpus.poses[val_mask]
    gen = torch.Generator().manual_seed(args.seed)
    n = args.num
    idx = torch.randint(0, val_poses.shape[0], (n,), generator=gen)
    batch = sample_batch(val_poses, layer, n, gen, indices=idx, clean=True)
    k_all = batch.intrinsics
    rows: list[Row] = []
    max_steps = max(fitter.default_steps, 4)

    # Timings (inputs of the first sample / first 64 samples, noisy condition).
    kp_noisy, conf_noisy = degrade(batch, "noisy", torch.Generator().manual_seed(1))
    one = (kp_noisy[:1], conf_noisy[:1], k_all[0])
    lgd_ms = {s: median_ms(partial(fitter.fit, *one, steps=s), args.time_repeats)
              for s in range(max_steps + 1)}
    first = fitter.fit(*one)
    warm_ms = {s: median_ms(partial(fitter.fit, *one, init=first, steps=s), args.time_repeats)
               for s in range(1, max_steps + 1)}
    b64 = min(64, n)
    many = (kp_noisy[:b64], conf_noisy[:b64], k_all[:b64])
    lgd_tp = b64 / (median_ms(lambda: fitter.fit(*many), 5) / 1000)
    schedules = {"full": baseline.config}
    for frac in (0.25, 0.5):
        schedules[f"{frac:g}x"] = replace(
            baseline.config,
            stage_iterations=tuple(max(1, int(i * frac)) for i in baseline.config.stage_iterations))
    base_ms: dict[str, float] = {}
    for name, cfg in schedules.items():
        baseline.config = cfg
        base_ms[name] = median_ms(lambda: baseline.fit(*one), args.baseline_time_repeats)
    baseline.config = schedules["full"]
    base_tp = b64 / (median_ms(lambda: baseline.fit(*many), 1) / 1000)

    clean_fits: dict[str, FitResult] = {}
    for condition in CONDITIONS:
        kp, conf = degrade(batch, condition,
                           torch.Generator().manual_seed(CONDITIONS.index(condition)))
        for steps in range(max_steps + 1):
            res = fit_in_chunks(partial(fitter.fit, steps=steps), kp, conf, k_all)
            name = "LGD init only" if steps == 0 else f"LGD cold, {steps} steps"
            rows.append(Row(name, condition, *scores(res, batch, available), lgd_ms[steps],
                            lgd_tp if steps == fitter.default_steps else None, steps,
                            per_view_pa_mm(res, batch)))
            if condition == "clean" and steps == fitter.default_steps:
                clean_fits["LGD"] = res
        for name, cfg in schedules.items():
            baseline.config = cfg
            res = baseline.fit(kp, conf, k_all)
            label = "SMPLify-style" if name == "full" else f"SMPLify-style ({name} iterations)"
            rows.append(Row(label, condition, *scores(res, batch, available), base_ms[name],
                            base_tp if name == "full" else None, None,
                            per_view_pa_mm(res, batch)))
            if condition == "clean" and name == "full":
                clean_fits["baseline"] = res
        baseline.config = schedules["full"]
    clip_of_view = corpus.clip_index[val_mask][idx]
    motions = [str(corpus.clips[int(c)].clip_id).removesuffix("~mirror") for c in clip_of_view]

    # Warm start on sequences: all sequences advance one frame per batched fit, which is the
    # same per-sample computation as fitting each sequence alone at batch 1.
    seq_gen = torch.Generator().manual_seed(args.seed + 1)
    seqs = sequences(corpus.poses, corpus.clip_index, val_mask, args.sequences,
                     args.sequence_length, seq_gen)
    for condition in CONDITIONS if seqs else ():
        sb = sample_batch(corpus.poses, layer, len(seqs) * args.sequence_length, seq_gen,
                          indices=torch.cat(seqs), clean=True,
                          view_groups=torch.arange(len(seqs)).repeat_interleave(
                              args.sequence_length))
        kp, conf = degrade(sb, condition, seq_gen)
        cold = fit_in_chunks(fitter.fit, kp, conf, sb.intrinsics)
        frame = [torch.arange(len(seqs)) * args.sequence_length + t
                 for t in range(args.sequence_length)]
        later = torch.cat(frame[1:])  # frames 1.., frame-major, as the warm fits come out
        rows.append(Row("LGD cold on sequence frames", condition,
                        *scores(cold.select(later), sb.select(later), available),
                        lgd_ms[fitter.default_steps], None, fitter.default_steps))
        for steps in range(1, max_steps + 1):
            prev = cold.select(frame[0])
            fits = []
            for t in frame[1:]:
                prev = fitter.fit(kp[t], conf[t], sb.intrinsics[t], init=prev, steps=steps)
                fits.append(prev)
            rows.append(Row(f"LGD warm, {steps} steps", condition,
                            *scores(FitResult.concatenate(fits), sb.select(later), available),
                            warm_ms[steps], None, steps))

    table = render(rows, fitter, base_ms["full"], args, len(seqs),
                   time.perf_counter() - started)
    table += distribution_table(rows, fitter.default_steps)
    table += per_motion_table(motions, clean_fits, batch, available, fitter.default_steps)
    table += error_breakdown_table(clean_fits, batch, fitter.body_model, fitter.default_steps)
    print(table)
    if args.write_docs:
        out = REPO / "docs" / "benchmarks" / "fitting.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        # Keep the hand-written goals section above the generated tables.
        previous = out.read_text() if out.is_file() else ""
        marker = f"\n## {args.fmt}\n"
        head = previous[:previous.index(marker) + 1] if marker in previous else ""
        out.write_text(head + table.replace(f"# Fitting benchmark ({args.fmt})", f"## {args.fmt}", 1))
        plot(rows, REPO / "docs" / "images" / "fitting_error_vs_time.png")
        print(f"wrote {out}")
    return 0


def prior_corpus_version(path: str | None) -> str:
    """The corpus version a pose prior file was fitted on (``""`` if it does not say)."""
    with np.load(path or default_pose_prior_path()) as data:
        return str(data["corpus_version"]) if "corpus_version" in data.files else ""


def held_out_source_mask(corpus: PoseCorpus, source: str, weights_version: str,
                         prior_version: str) -> torch.Tensor:
    """``[N]`` poses of ``source``'s clips; refuses when LGD or the prior trained on them."""
    in_source = torch.tensor([c.source == source for c in corpus.clips])
    if not bool(in_source.any()):
        known = sorted({c.source for c in corpus.clips})
        raise SystemExit(f"--held-out-source {source}: no such source in {corpus.version} "
                         f"(sources: {', '.join(known)})")
    trained = any(c.source == source and c.split == "train" for c in corpus.clips)
    for what, version in (("the LGD weights record", weights_version),
                          ("the pose prior records", prior_version)):
        if trained and version.split("+")[0] == corpus.version:
            raise SystemExit(f"--held-out-source {source}: {what} {version}, whose "
                             f"training split holds these clips; give older files "
                             f"(--weights, --prior) or use the val split")
    return in_source[corpus.clip_index]


def train_source_mask(corpus: PoseCorpus, source: str) -> torch.Tensor:
    """``[N]`` poses of ``source``'s training clips."""
    chosen = torch.tensor([c.source == source and c.split == "train" for c in corpus.clips])
    if not bool(chosen.any()):
        known = sorted({c.source for c in corpus.clips if c.split == "train"})
        raise SystemExit(f"--train-source {source}: no training clips of that source in "
                         f"{corpus.version} (sources: {', '.join(known)})")
    return chosen[corpus.clip_index]


def distribution_table(rows: list[Row], steps: int) -> str:
    """Quantiles of the per-view PA-MPJPE: whether a mean ratio comes from typical views or
    from the tail (a method's gross failures weigh on its mean)."""
    quantiles = (0.25, 0.5, 0.75, 0.9)
    lines = ["", f"### Per-view PA-MPJPE quantiles (mm; LGD cold, {steps} steps, and the "
             f"baseline, same views)", "",
             "| method | condition | " + " | ".join(f"p{q * 100:.0f}" for q in quantiles)
             + " | p50 ratio |", "|---|---|" + "---|" * (len(quantiles) + 1)]
    for condition in CONDITIONS:
        pair = [next((r for r in rows if r.condition == condition and r.method == name
                      and r.per_view_pa_mm is not None and r.per_view_pa_mm.numel()), None)
                for name in (f"LGD cold, {steps} steps", "SMPLify-style")]
        if None in pair:
            continue
        values = [torch.quantile(r.per_view_pa_mm.double(), torch.tensor(quantiles,
                                                                          dtype=torch.float64))
                  for r in pair]
        for r, v in zip(pair, values, strict=True):
            ratio = f"{float(values[0][1] / values[1][1]):.2f}" if r is pair[0] else ""
            lines.append(f"| {r.method} | {condition} | "
                         + " | ".join(f"{float(x):.1f}" for x in v) + f" | {ratio} |")
    return "\n".join(lines) + "\n"


def per_motion_table(motions: list[str], fits: dict[str, FitResult], batch: SyntheticBatch,
                     available: torch.Tensor, steps: int) -> str:
    """PA-MPJPE per held-out motion (a clip and its mirror), clean views: where the error is."""
    lines = ["", f"### Per held-out motion (clean views; LGD cold, {steps} steps)", "",
             "| motion | views | LGD PA-MPJPE mm | SMPLify-style PA-MPJPE mm | PA ratio |", "|---|---|---|---|---|"]
    for motion in sorted(set(motions)):
        rows = torch.tensor([i for i, m in enumerate(motions) if m == motion])
        sub = SyntheticBatch(**{k: v[rows] for k, v in batch.__dict__.items()})
        ours = per_view_pa_mm(fits["LGD"].select(rows), sub)
        theirs = per_view_pa_mm(fits["baseline"].select(rows), sub)
        if ours.numel() == 0:  # no view of this motion kept enough keypoints
            lines.append(f"| {motion} | {len(rows)} | - | - | - |")
            continue
        ratio = float(ours.mean() / theirs.mean())
        low, high = ratio_interval(ours, theirs)
        lines.append(f"| {motion} | {len(rows)} | {float(ours.mean()):.1f} | "
                     f"{float(theirs.mean()):.1f} | {ratio:.2f} ({low:.2f}-{high:.2f}) |")
    return "\n".join(lines) + "\n"


# Joint groups of the error breakdown, by SMPL joint name.
JOINT_GROUPS: dict[str, tuple[str, ...]] = {
    "torso and head": ("pelvis", "spine1", "spine2", "spine3", "neck", "left_collar",
                       "right_collar", "head"),
    "hips and knees": ("left_hip", "right_hip", "left_knee", "right_knee"),
    "ankles and feet": ("left_ankle", "right_ankle", "left_foot", "right_foot"),
    "shoulders and elbows": ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow"),
    "wrists and hands": ("left_wrist", "right_wrist", "left_hand", "right_hand"),
}


def error_breakdown_table(fits: dict[str, FitResult], batch: SyntheticBatch,
                          body_model: BodyModel, steps: int) -> str:
    """Where the PA-MPJPE is: shape or pose, and which joints (clean views).

    Each method's fit is re-posed with the true shape (what its shape error costs) and with
    the true joint rotations under its own orientation and shape (what its pose error
    costs); then its aligned error per joint group.
    """
    ok = batch.usable
    if not bool(ok.any()):
        return ""
    group_index = {name: [SMPL_JOINT_NAMES.index(j) for j in joints]
                   for name, joints in JOINT_GROUPS.items()}
    one_vertex = body_model.vertex_subset([0])  # joints only: skip the mesh

    def pa(pose: torch.Tensor, betas: torch.Tensor) -> float:
        joints = body_model(pose, betas, torch.zeros_like(pose[:, :3]),
                            vertex_subset=one_vertex).joints
        return float(pa_mpjpe(joints, batch.joints)[ok].mean() * 1000)

    lines = ["", f"### Where the error is (clean views; LGD cold, {steps} steps)", "",
             "PA-MPJPE mm of each fit as it is, re-posed with the true shape, and re-posed "
             "with the true joint rotations (its own orientation and shape); then its "
             "aligned error per joint group.", "",
             "| method | as fitted | true shape | true joint rotations | "
             + " | ".join(group_index) + " |", "|---|---|---|---|" + "---|" * len(group_index)]
    for label, key in (("LGD", "LGD"), ("SMPLify-style", "baseline")):
        fit = fits.get(key)
        if fit is None:
            continue
        betas = batch.betas[:, :fit.betas.shape[1]]
        body = torch.cat([fit.pose[:, :3], batch.pose[:, 3:]], dim=-1)
        per_joint = (procrustes_align(fit.joints, batch.joints) - batch.joints).norm(dim=-1)
        per_joint = per_joint[ok].mean(0) * 1000
        groups = [f"{float(per_joint[i].mean()):.0f}" for i in group_index.values()]
        lines.append(f"| {label} | {pa(fit.pose, fit.betas):.1f} | {pa(fit.pose, betas):.1f} | "
                     f"{pa(body, fit.betas):.1f} | " + " | ".join(groups) + " |")
    return "\n".join(lines) + "\n"


def render(rows: list[Row], fitter: Fitter, base_ms: float, args: argparse.Namespace,
           num_sequences: int, elapsed: float) -> str:
    base = {r.condition: r for r in rows if r.method == "SMPLify-style"}
    poses = "Held-out corpus `val` poses"
    if args.held_out_source is not None:
        poses = (f"Poses of corpus source `{args.held_out_source}` (never seen by these "
                 f"weights, trained on {fitter.meta.corpus_version}, nor by the baseline's prior)")
    if args.train_source is not None:
        poses = (f"**Training** poses of corpus source `{args.train_source}` (the baseline's "
                 f"prior was fitted on them; the weights, trained on "
                 f"{fitter.meta.corpus_version}, if that version held them): not a held-out "
                 f"figure")
    lines = [
        f"# Fitting benchmark ({args.fmt})",
        "",
        (f"{poses}, {args.num} random camera views per condition; "
        f"{len(rows)} rows; {num_sequences} sequences x {args.sequence_length} frames for warm "
        f"starts. Body model `{fitter.body_model.name}`; LGD weights trained for "
        f"`{fitter.meta.keypoint_format}`, {fitter.default_steps} steps by default. "
        f"Timings: batch 1 median on this machine ({args.threads} thread(s), shared 2-core CPU), "
        f"throughput at batch 64. Errors: MPJPE after pelvis alignment and PA-MPJPE of the 24 "
        f"joints (mm); 2D: mean distance of the fitted keypoints to the noise-free projections "
        f"of the keypoints inside the image (px); success: the fitter's own flag. PA ratios "
        f"are against the SMPLify-style baseline on the same views, with a 95% paired "
        f"bootstrap interval over those views (it covers the draw of cameras and poses, not "
        f"the choice of held-out motions); sequence rows use other views: compare them with "
        f"'LGD cold on sequence frames'. Speed-ups are against the baseline's time per fit. "
        f"Run time {elapsed:.0f} s."),
        "",
        ("| method | condition | MPJPE mm | PA-MPJPE mm | PA ratio | 2D px | success % "
         "| ms / fit (b=1) | speed-up | fits/s (b=64) |"),
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        b = base.get(r.condition)
        ratio = "-"
        if b is not None and r.per_view_pa_mm is not None and b.per_view_pa_mm is not None:
            ratio = f"{r.pa_mpjpe_mm / b.pa_mpjpe_mm:.2f}"
            if r is not b:
                low, high = ratio_interval(r.per_view_pa_mm, b.per_view_pa_mm)
                ratio += f" ({low:.2f}-{high:.2f})"
        speed = f"{base_ms / r.ms_per_fit:.0f}x"
        tp = f"{r.fits_per_s:.0f}" if r.fits_per_s else ""
        lines.append(f"| {r.method} | {r.condition} | {r.mpjpe_mm:.1f} | {r.pa_mpjpe_mm:.1f} | "
                     f"{ratio} | {r.error_2d_px:.1f} | {r.success_pct:.0f} | "
                     f"{r.ms_per_fit:.2f} | {speed} | {tp} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[Row], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(CONDITIONS), figsize=(15, 4.5), sharey=True)
    for ax, condition in zip(axes, CONDITIONS, strict=True):
        groups = {
            "LGD cold (0..K steps)": [r for r in rows if r.condition == condition and (
                r.method.startswith("LGD cold,") or r.method == "LGD init only")],
            "LGD warm, sequences (1..K steps)": [r for r in rows if r.condition == condition
                                                 and r.method.startswith("LGD warm")],
            "SMPLify-style (0.25x, 0.5x, 1x iterations)": [
                r for r in rows if r.condition == condition and r.method.startswith("SMPLify")],
        }
        for label, group in groups.items():
            group = sorted(group, key=lambda r: r.ms_per_fit)
            ax.plot([r.ms_per_fit for r in group], [r.pa_mpjpe_mm for r in group], "o-",
                    label=label)
            for r in group:
                if r.steps is not None:
                    ax.annotate(str(r.steps), (r.ms_per_fit, r.pa_mpjpe_mm), fontsize=7,
                                xytext=(3, 3), textcoords="offset points")
        ax.set_xscale("log")
        ax.set_title(condition)
        ax.set_xlabel("time per fit at batch 1 (ms, log)")
        ax.grid(True, alpha=0.3)
    axes[0].set_ylabel("PA-MPJPE (mm)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    sys.exit(main())
