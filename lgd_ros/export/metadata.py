"""What an exported fit graph was made for, stored inside the ONNX file.

An exported graph bakes in everything the torch fitter decides at call time: the keypoint
format (the input has ``J`` keypoints in that order), the number of update steps (the loop
is unrolled), whether it starts from the init network or from a previous fit, the body
model's arrays and the network's weights (as constants), and the success thresholds. A
graph used with anything else gives plausible-looking garbage, so all of it is written to
the model's ``metadata_props`` (plain string pairs every ONNX tool keeps, readable without
running the graph) and checked when a backend loads the file; a TensorRT engine carries the
same pairs in a JSON file next to it (``<engine>.json``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import torch

from lgd_ros import __version__ as LGD_ROS_VERSION
from lgd_ros.export.errors import GraphFileError, GraphMismatchError
from lgd_ros.fitting.fitter import FitOptions
from lgd_ros.fitting.networks import LGDNetwork

__all__ = [
    "GRAPH_FORMAT_VERSION",
    "GRAPH_KIND",
    "PROPERTY_PREFIX",
    "GraphMetadata",
    "Start",
    "export_command",
    "network_fingerprint",
    "read_onnx_metadata",
]

GRAPH_KIND: str = "lgd_ros.fit_graph"
#: Bumped when the inputs, outputs or meaning of an exported graph change; a file of
#: another version is refused (re-export it) instead of being misread.
GRAPH_FORMAT_VERSION: int = 1
#: Prefix of every metadata key this package writes.
PROPERTY_PREFIX: str = "lgd_ros."

#: ``cold``: starts from the init network; ``warm``: starts from a previous fit.
Start = Literal["cold", "warm"]


def network_fingerprint(network: LGDNetwork) -> str:
    """sha256 hex of a network's config and parameters (independent of the file format).

    Hashing the tensors rather than the weights file means a graph exported from weights in
    memory (fresh from training) and one exported from the saved file agree.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(network.config.to_dict(), sort_keys=True).encode())
    for name, tensor in sorted(network.state_dict().items()):
        value = tensor.detach().to("cpu").contiguous()
        digest.update(f"{name}:{value.dtype}:{tuple(value.shape)}".encode())
        digest.update(value.numpy().tobytes() if value.dtype != torch.bfloat16
                      else value.float().numpy().tobytes())
    return digest.hexdigest()


def export_command(fmt: str, *, steps: int | None = None, warm_steps: int | None = None,
                   weights: str | Path | None = None, body_model: str | Path | None = None,
                   out: str | Path | None = None) -> str:
    """The ``lgd-ros export`` command line that writes a graph for these settings."""
    parts = ["lgd-ros export", f"--fmt {fmt}"]
    if weights is not None:
        parts.append(f"--weights {weights}")
    if body_model is not None:
        parts.append(f"--body-model {body_model}")
    if steps is not None:
        parts.append(f"--steps {steps}")
    if warm_steps is not None:
        parts.append(f"--warm-steps {warm_steps}")
    parts.append(f"--out {out if out is not None else f'lgd_{fmt}.onnx'}")
    return " ".join(parts)


@dataclass(frozen=True)
class GraphMetadata:
    """The settings a fit graph was exported with (see the module docstring).

    Attributes:
        keypoint_format: format name of the ``[B, J, 2]`` keypoint input.
        num_keypoints: ``J``.
        num_betas: shape parameters of the body model.
        steps: learned update steps unrolled in the graph.
        start: ``cold`` (init network) or ``warm`` (``init_*`` inputs).
        body_model_fingerprint / body_model_name: :attr:`BodyModel.fingerprint` / name.
        weights_sha256: :func:`network_fingerprint` of the exported network.
        options: success thresholds computed inside the graph.
        opset: ONNX opset of the file.
        lgd_ros_version / torch_version: software that exported it (informational).
        graph_format_version: :data:`GRAPH_FORMAT_VERSION` at export time.
        dtype: floating point type of inputs and outputs.
    """

    keypoint_format: str
    num_keypoints: int
    num_betas: int
    steps: int
    start: Start
    body_model_fingerprint: str
    body_model_name: str
    weights_sha256: str
    options: FitOptions
    opset: int
    lgd_ros_version: str = LGD_ROS_VERSION
    torch_version: str = torch.__version__
    graph_format_version: int = GRAPH_FORMAT_VERSION
    dtype: str = "float32"

    def to_properties(self) -> dict[str, str]:
        """``metadata_props`` pairs (keys prefixed with :data:`PROPERTY_PREFIX`)."""
        values = asdict(self)
        values["options"] = json.dumps(asdict(self.options), sort_keys=True)
        props = {f"{PROPERTY_PREFIX}{key}": str(value) for key, value in values.items()}
        props[f"{PROPERTY_PREFIX}kind"] = GRAPH_KIND
        return props

    @classmethod
    def from_properties(cls, props: Mapping[str, str], source: str | Path) -> GraphMetadata:
        """Parse :meth:`to_properties` output.

        Raises:
            GraphFileError: not an lgd_ros fit graph, another graph format version, or
                missing / malformed entries.
        """
        def get(key: str) -> str:
            try:
                return props[f"{PROPERTY_PREFIX}{key}"]
            except KeyError:
                raise GraphFileError(
                    f"{source}: metadata entry {PROPERTY_PREFIX}{key} is missing; the file was "
                    f"not written by 'lgd-ros export' or was edited. Re-export it."
                ) from None

        if props.get(f"{PROPERTY_PREFIX}kind") != GRAPH_KIND:
            raise GraphFileError(
                f"{source} is not an lgd_ros fit graph (its metadata has no "
                f"{PROPERTY_PREFIX}kind={GRAPH_KIND!r}); write one with 'lgd-ros export'"
            )
        try:
            version = int(get("graph_format_version"))
            if version != GRAPH_FORMAT_VERSION:
                raise GraphFileError(
                    f"{source} is fit graph format version {version}, but this lgd_ros "
                    f"({LGD_ROS_VERSION}) reads version {GRAPH_FORMAT_VERSION}. Re-export it "
                    f"with this version: {export_command(get('keypoint_format'))}"
                )
            start = get("start")
            if start not in ("cold", "warm"):
                raise GraphFileError(f"{source}: start must be 'cold' or 'warm', got {start!r}")
            return cls(
                keypoint_format=get("keypoint_format"),
                num_keypoints=int(get("num_keypoints")),
                num_betas=int(get("num_betas")),
                steps=int(get("steps")),
                start=start,  # type: ignore[arg-type]
                body_model_fingerprint=get("body_model_fingerprint"),
                body_model_name=get("body_model_name"),
                weights_sha256=get("weights_sha256"),
                options=FitOptions(**json.loads(get("options"))),
                opset=int(get("opset")),
                lgd_ros_version=get("lgd_ros_version"),
                torch_version=get("torch_version"),
                graph_format_version=version,
                dtype=get("dtype"),
            )
        except (ValueError, TypeError) as exc:  # int() / json / FitOptions(**...)
            raise GraphFileError(f"{source}: malformed lgd_ros metadata ({exc}); re-export it"
                                 ) from exc

    def check(
        self,
        source: str | Path,
        *,
        fmt: str | None = None,
        steps: int | None = None,
        start: Start | None = None,
        body_model_fingerprint: str | None = None,
        weights_sha256: str | None = None,
        options: FitOptions | None = None,
    ) -> None:
        """Refuse a graph made for other settings (None skips a check).

        Raises:
            GraphMismatchError: the first setting that differs, with the command that
                exports a matching graph.
        """
        fix = export_command(fmt or self.keypoint_format,
                             steps=steps if start != "warm" else None,
                             warm_steps=steps if start == "warm" else None)
        if fmt is not None and fmt != self.keypoint_format:
            raise GraphMismatchError(
                f"{source} was exported for keypoint format {self.keypoint_format!r} "
                f"({self.num_keypoints} keypoints), not {fmt!r}. Export one for {fmt!r}: {fix}"
            )
        if start is not None and start != self.start:
            raise GraphMismatchError(
                f"{source} is a {self.start}-start graph, but a {start}-start graph was asked "
                f"for (a warm-start graph takes the previous fit as input). Export both: {fix}"
            )
        if steps is not None and steps != self.steps:
            raise GraphMismatchError(
                f"{source} was exported for {self.steps} update steps ({self.start} start), "
                f"not {steps}: the step loop is unrolled in the graph. Export one with "
                f"{steps} steps: {fix}"
            )
        if body_model_fingerprint is not None and \
                body_model_fingerprint != self.body_model_fingerprint:
            raise GraphMismatchError(
                f"{source} was exported with body model {self.body_model_name!r} (fingerprint "
                f"{self.body_model_fingerprint[:12]}...), but the loaded body model has "
                f"fingerprint {body_model_fingerprint[:12]}...; the graph contains the body "
                f"model it was exported with. Export with your model: "
                f"{fix.replace('lgd-ros export', 'lgd-ros export --body-model YOUR_MODEL', 1)}"
            )
        if weights_sha256 is not None and weights_sha256 != self.weights_sha256:
            raise GraphMismatchError(
                f"{source} was exported from other weights (sha256 {self.weights_sha256[:12]}... "
                f"of the network, expected {weights_sha256[:12]}...). Re-export it from your "
                f"weights: {fix.replace('lgd-ros export', 'lgd-ros export --weights WEIGHTS', 1)}"
            )
        if options is not None and options != self.options:
            raise GraphMismatchError(
                f"{source} decides success with {self.options}, but {options} was asked for "
                f"(the thresholds are part of the graph). Re-export it with those options."
            )


def read_onnx_metadata(path: str | Path) -> GraphMetadata:
    """Read and parse the lgd_ros metadata of an ONNX file (weights are not loaded).

    Raises:
        GraphFileError: missing file, not ONNX, or not an lgd_ros fit graph.
        BackendUnavailableError: the ``onnx`` package is not installed.
    """
    from lgd_ros.export.errors import BackendUnavailableError

    path = Path(path)
    if not path.is_file():
        raise GraphFileError(f"ONNX fit graph not found: {path}. Write it with: "
                             f"{export_command('coco17', out=path)}")
    try:
        import onnx
    except ImportError as exc:
        raise BackendUnavailableError(
            "reading ONNX metadata needs the 'onnx' package: pip install onnx") from exc
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise GraphFileError(f"cannot read {path} as an ONNX model: {exc}") from exc
    return GraphMetadata.from_properties({p.key: p.value for p in model.metadata_props}, path)
