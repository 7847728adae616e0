"""Fit the SMPLify-style baseline's Gaussian-mixture pose prior to the pose corpus.

Usage::

    python tools/build_pose_prior.py [--components 8] [--out lgd_ros/fitting/data/pose_prior_gmm.npz]

Uses only the corpus ``train`` split (the benchmark evaluates on ``val``; the corpus already
holds left/right mirrored copies, so the prior is symmetric), and plain-numpy EM (no
scikit-learn).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lgd_ros.data import load_pose_corpus
from lgd_ros.fitting.pose_prior import fit_gaussian_mixture


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--max-poses", type=int, default=20000,
                        help="random subset size (EM cost grows linearly)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--regularization", type=float, default=1e-3,
                        help="added to each covariance diagonal, rad^2 (default %(default)s)")
    parser.add_argument("--corpus", default=None, help="pose corpus file (default: shipped)")
    parser.add_argument("--out", type=Path,
                        default=REPO / "lgd_ros" / "fitting" / "data" / "pose_prior_gmm.npz")
    args = parser.parse_args(argv)

    corpus = load_pose_corpus(args.corpus)
    poses = torch.as_tensor(np.asarray(corpus.train_poses()), dtype=torch.float32)
    body = poses[:, 3:].double().numpy()
    rng = np.random.default_rng(args.seed)
    if body.shape[0] > args.max_poses:
        body = body[rng.choice(body.shape[0], args.max_poses, replace=False)]
    weights, means, covs = fit_gaussian_mixture(body, args.components,
                                                iterations=args.iterations, seed=args.seed,
                                                regularization=args.regularization)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        args.out, weights=weights.astype(np.float64), means=means.astype(np.float32),
        covariances=covs.astype(np.float32),
        corpus_version=np.array(str(corpus.version)), num_poses=np.array(body.shape[0]),
    )
    print(f"wrote {args.out}: {args.components} components from {body.shape[0]} poses")
    return 0


if __name__ == "__main__":
    sys.exit(main())
