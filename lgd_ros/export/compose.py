"""Chain separately exported ONNX graphs into one graph (start -> K x step -> finish).

Why: see :mod:`lgd_ros.export.graph` ("pieces of the loop"). Each piece is an ordinary
ONNX model from torch's exporter with named inputs and outputs; chaining binds a piece's
inputs by name to the most recent value of that name (an original graph input or an
earlier piece's output), so ``state`` flows start -> step -> step -> ... -> finish and
``rays`` etc. come from the start piece.

Names are made unique per piece *instance* for computed values (``step2/...``) but per
piece *type* for initializers (``step/...``), so the ``K`` copies of the step share one
set of update-network weights. Identical initializers of different pieces (body-model
tables both the step and the finish use) are stored once.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from typing import Any

from lgd_ros.export.errors import ExportFailedError

__all__ = ["PieceInstance", "chain_pieces", "module_scopes"]


@dataclass(frozen=True)
class PieceInstance:
    """One use of an exported piece in the chain.

    Attributes:
        kind: piece type (initializers are shared between instances of one kind).
        instance: unique prefix of this use's computed values and node names.
        model: the piece's ``onnx.ModelProto``.
    """

    kind: str
    instance: str
    model: Any
    carry: tuple[tuple[str, str], ...] = ()
    """``(output, name)`` pairs: this piece's ``output`` is what later pieces read as
    ``name`` (e.g. a step's ``next_state`` becomes the next step's ``state``)."""


def module_scopes(node: Any) -> list[str]:
    """The torch module path components of an exported node (``['network', 'init_net',
    ...]``), from the exporter's ``pkg.torch.onnx.name_scopes`` metadata."""
    for prop in node.metadata_props:
        if prop.key == "pkg.torch.onnx.name_scopes":
            try:
                scopes = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                return []
            return [part for scope in scopes for part in str(scope).split(".") if part]
    return []


def _initializer_key(tensor: Any) -> bytes:
    from onnx import numpy_helper

    array = numpy_helper.to_array(tensor)
    digest = hashlib.sha256(array.tobytes()).digest()
    return f"{tensor.data_type}:{tuple(tensor.dims)}:".encode() + digest


def chain_pieces(
    pieces: list[PieceInstance],
    *,
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
    node_prefix: Any = None,
) -> Any:
    """One ``onnx.ModelProto`` computing ``outputs`` from ``inputs`` through ``pieces``.

    Args:
        pieces: in execution order; every piece input must be a graph input or an output
            of an earlier piece.
        inputs: names of the chained graph's inputs, in order (declared by the first piece
            using each of them; inputs no node reads are dropped).
        outputs: names of the chained graph's outputs (the last values of those names).
        node_prefix: optional ``f(node) -> str`` prepended to node names (e.g. to mark
            nodes for TensorRT's per-layer precision), called before node metadata is
            dropped.

    Raises:
        ExportFailedError: a piece needs a value nothing produced, or pieces use
            different opsets / contain functions.
    """
    import onnx

    if not pieces:
        raise ExportFailedError("nothing to chain")
    opsets = {(o.domain, o.version) for p in pieces for o in p.model.opset_import}
    domains = [d for d, _ in opsets]
    if len(domains) != len(set(domains)):
        raise ExportFailedError(f"pieces use different opset versions: {sorted(opsets)}")
    if any(len(p.model.functions) for p in pieces):
        raise ExportFailedError("pieces with ONNX functions cannot be chained (inline them)")

    graph = onnx.GraphProto(name="lgd_ros_fit")
    environment: dict[str, str] = {name: name for name in inputs}  # value name -> actual
    declared_inputs: dict[str, Any] = {}
    stored: dict[bytes, str] = {}  # initializer content -> stored name
    kinds_with_initializers: dict[str, dict[str, str]] = {}
    final_producer = {name: -1 for name in outputs}
    for index, piece in enumerate(pieces):
        for out in piece.model.graph.output:
            if out.name in final_producer:
                final_producer[out.name] = index

    for index, piece in enumerate(pieces):
        source = piece.model.graph
        mapping: dict[str, str] = {"": ""}  # optional (empty) inputs stay empty
        for value in source.input:
            if value.name not in environment:
                raise ExportFailedError(f"piece {piece.instance} needs {value.name!r}, which no "
                                        f"earlier piece or graph input provides")
            mapping[value.name] = environment[value.name]
            if value.name in inputs and value.name not in declared_inputs:
                declared_inputs[value.name] = value
        if piece.kind not in kinds_with_initializers:
            names: dict[str, str] = {}
            for tensor in source.initializer:
                key = _initializer_key(tensor)
                if key not in stored:
                    copy = onnx.TensorProto()
                    copy.CopyFrom(tensor)
                    copy.name = f"{piece.kind}/{tensor.name}"
                    graph.initializer.append(copy)
                    stored[key] = copy.name
                names[tensor.name] = stored[key]
            kinds_with_initializers[piece.kind] = names
        mapping.update(kinds_with_initializers[piece.kind])
        finals = {name for name, producer in final_producer.items() if producer == index}

        for node in source.node:
            new = onnx.NodeProto()
            new.CopyFrom(node)
            del new.input[:]
            try:
                new.input.extend(mapping[name] for name in node.input)
            except KeyError as exc:
                raise ExportFailedError(f"piece {piece.instance}: node {node.name} reads "
                                        f"{exc.args[0]!r} before it is computed") from None
            del new.output[:]
            for name in node.output:  # every node output is a new value (nodes are in order)
                mapping[name] = name if name in finals or not name else \
                    f"{piece.instance}/{name}"
                new.output.append(mapping[name])
            prefix = node_prefix(node) if node_prefix is not None else ""
            new.name = f"{prefix}{piece.instance}/{node.name}"
            del new.metadata_props[:]  # stack traces of the build machine: not shipped
            graph.node.append(new)
        produced = {name for node in source.node for name in node.output}
        for value in source.value_info:
            if value.name in produced and value.name not in finals:
                info = onnx.ValueInfoProto()
                info.CopyFrom(value)
                info.name = mapping[value.name]
                graph.value_info.append(info)
        carry = dict(piece.carry)
        for out in source.output:
            environment[carry.get(out.name, out.name)] = mapping[out.name]

    # Inputs no node reads are left out (a runner feeds the inputs a graph declares):
    # TensorRT refuses unused network inputs, and the caller need not provide them.
    used = {name for node in graph.node for name in node.input}
    graph.input.extend(declared_inputs[name] for name in inputs
                       if name in declared_inputs and name in used)
    last_outputs = {out.name: out for p in pieces for out in p.model.graph.output}
    for name in outputs:
        if name not in environment:
            raise ExportFailedError(f"no piece produces the graph output {name!r}")
        if environment[name] != name:  # e.g. an output passed through unchanged
            graph.node.append(onnx.helper.make_node("Identity", [environment[name]], [name],
                                                    name=f"output/{name}"))
        graph.output.append(last_outputs[name])
    first = pieces[0].model
    model = onnx.helper.make_model(graph, opset_imports=list(first.opset_import),
                                   producer_name=first.producer_name,
                                   producer_version=first.producer_version)
    model.ir_version = first.ir_version
    return model
