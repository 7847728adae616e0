"""A Gaussian-mixture prior over body poses for the SMPLify-style baseline.

SMPLify's own prior (a GMM fitted to CMU poses) is not redistributable, so this one is
fitted to the project's pose corpus (``train`` split) by ``tools/build_pose_prior.py``
with the plain-numpy EM below and shipped as ``lgd_ros/fitting/data/pose_prior_gmm.npz``.

The energy is SMPLify's "max-mixture" approximation of the negative log-likelihood,

    E(theta) = min_m [ 0.5 (theta - mu_m)^T P_m (theta - mu_m) - log w_m + 0.5 log det S_m ]

(minimum over components instead of a log-sum-exp: the same optimum near a mode and
better-behaved gradients), over the 69 body-joint axis-angle values.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from lgd_ros.fitting.errors import FittingError

__all__ = ["PosePrior", "default_pose_prior_path", "fit_gaussian_mixture"]


def default_pose_prior_path() -> Path:
    """The prior shipped in the package."""
    return Path(str(resources.files("lgd_ros.fitting") / "data" / "pose_prior_gmm.npz"))


def fit_gaussian_mixture(
    samples: npt.NDArray[np.float64],
    num_components: int,
    *,
    iterations: int = 100,
    regularization: float = 1e-3,
    seed: int = 0,
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Full-covariance GMM by expectation-maximisation (k-means++-style seeding).

    Args:
        samples: ``[N, D]``.
        regularization: added to every covariance diagonal (keeps them invertible for
            joints that barely move in the data).

    Returns:
        ``(weights [M], means [M, D], covariances [M, D, D])``.
    """
    rng = np.random.default_rng(seed)
    x = np.asarray(samples, dtype=np.float64)
    n, d = x.shape
    if n < num_components * 2:
        raise FittingError(f"need at least {2 * num_components} poses for {num_components} "
                           f"components, got {n}")
    # Seeding: spread initial means (k-means++ on squared distances).
    means = [x[rng.integers(n)]]
    for _ in range(1, num_components):
        dist = np.min([((x - m) ** 2).sum(1) for m in means], axis=0)
        means.append(x[rng.choice(n, p=dist / dist.sum())])
    mu = np.stack(means)
    cov = np.stack([np.cov(x.T) + regularization * np.eye(d)] * num_components)
    weights = np.full(num_components, 1.0 / num_components)
    for _ in range(iterations):
        # E step: log responsibilities.
        log_r = np.empty((n, num_components))
        for m in range(num_components):
            chol = np.linalg.cholesky(cov[m])
            z = np.linalg.solve(chol, (x - mu[m]).T)
            log_det = 2 * np.log(np.diag(chol)).sum()
            log_r[:, m] = np.log(weights[m]) - 0.5 * (z**2).sum(0) - 0.5 * log_det
        log_norm = np.logaddexp.reduce(log_r, axis=1, keepdims=True)
        resp = np.exp(log_r - log_norm)
        # M step.
        nk = resp.sum(0) + 1e-10
        weights = nk / n
        mu = (resp.T @ x) / nk[:, None]
        for m in range(num_components):
            diff = x - mu[m]
            cov[m] = (resp[:, m, None] * diff).T @ diff / nk[m] + regularization * np.eye(d)
    return weights, mu, cov


@dataclass(frozen=True)
class PosePrior:
    """Max-mixture GMM pose prior (see module docstring) as torch tensors."""

    means: torch.Tensor  # [M, 69]
    precisions: torch.Tensor  # [M, 69, 69]
    constants: torch.Tensor  # [M]: -log w_m + 0.5 log det S_m

    @classmethod
    def load(cls, path: str | Path | None = None, *, dtype: torch.dtype = torch.float32,
             device: torch.device | str | None = None) -> PosePrior:
        """Load a prior written by ``tools/build_pose_prior.py`` (default: the shipped one)."""
        path = Path(path) if path is not None else default_pose_prior_path()
        if not path.is_file():
            raise FittingError(
                f"pose prior not found: {path}; build it with "
                f"python tools/build_pose_prior.py --out {path}"
            )
        with np.load(path) as data:
            weights = data["weights"].astype(np.float64)
            means = data["means"].astype(np.float64)
            covs = data["covariances"].astype(np.float64)
        precisions = np.linalg.inv(covs)
        _, log_det = np.linalg.slogdet(covs)
        constants = -np.log(weights) + 0.5 * log_det
        constants = constants - constants.min()

        def t(a: npt.NDArray[np.float64]) -> torch.Tensor:
            return torch.as_tensor(a, dtype=dtype, device=device)

        return cls(means=t(means), precisions=t(precisions), constants=t(constants))

    def energy(self, body_pose: torch.Tensor) -> torch.Tensor:
        """``[B]`` prior energy of ``body_pose [B, 69]``."""
        diff = body_pose[:, None, :] - self.means[None]  # [B, M, 69]
        mahalanobis = torch.einsum("bmi,mij,bmj->bm", diff, self.precisions, diff)
        return (0.5 * mahalanobis + self.constants[None]).amin(dim=1)
