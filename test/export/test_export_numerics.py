"""The ONNX translation keeps the fitter's numerics: tiny epsilons are not optimised away.

Regression test: torch's built-in ONNX optimisation (onnxscript 0.7) rewrites ``x + c`` to
``x`` for any ``|c| < 1e-8``, which deleted the ``+ 1e-12`` inside the gradient
normalisation ``sqrt(mean_square + 1e-12)`` and moved exported fits by up to 2e-4 rad.
"""

from __future__ import annotations

import onnxruntime as ort
import torch

from lgd_ros.export.onnx_export import module_to_onnx


class _Epsilons(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (x + 1e-12).sqrt(), torch.log(x + 1e-24), x * 1.000001


def test_small_constants_survive_export() -> None:
    x = torch.tensor([[0.0, 1e-14, 4.0]]).expand(2, 3).contiguous()
    model = module_to_onnx(_Epsilons(), (x,), ("x",), ("root", "log", "scaled"))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    root, log, scaled = (torch.from_numpy(a) for a in session.run(None, {"x": x.numpy()}))
    expected = _Epsilons()(x)
    torch.testing.assert_close(root, expected[0])  # sqrt(1e-12) = 1e-6, not 0
    assert float(root[0, 0]) > 9e-7
    assert torch.isfinite(log).all()  # log(0 + 1e-24), not log(0) = -inf
    torch.testing.assert_close(log, expected[1])
    assert torch.equal(scaled, expected[2])  # not "x * 1"
