"""Growing a trained network by residual blocks keeps what it computes."""

from __future__ import annotations

import pytest
import torch

from lgd_ros.fitting.networks import LGDNetwork, NetworkConfig, load_grown


def _randomised(config: NetworkConfig, seed: int) -> LGDNetwork:
    """A network with every parameter random (a fresh one has zero heads, so any two
    fresh networks would agree trivially)."""
    torch.manual_seed(seed)
    network = LGDNetwork(config)
    with torch.no_grad():
        for parameter in network.parameters():
            parameter.normal_(0.0, 0.2)
    return network


def test_grown_network_computes_what_its_source_did() -> None:
    base = NetworkConfig(num_keypoints=17, width=32, init_width=48, num_blocks=2)
    source = _randomised(base, 0)
    grown = _randomised(NetworkConfig(num_keypoints=17, width=32, init_width=48,
                                      num_blocks=4, steps=6), 1)
    load_grown(grown, source)
    for name in ("init_net", "update_net"):
        mlp_in = getattr(source, name).stem[0].in_features
        x = torch.randn(5, mlp_in)
        with torch.no_grad():
            expected = getattr(source, name)(x)
            got = getattr(grown, name)(x)
        assert expected.abs().max() > 0.1  # a real output, not the zero head
        assert torch.allclose(got, expected, atol=1e-5)
    # The new blocks learn: the loss has a gradient on their zeroed scales at once.
    x = torch.randn(5, grown.update_net.stem[0].in_features)
    grown.update_net(x).square().sum().backward()
    assert grown.update_net.blocks[3].layers[5].weight.grad.abs().sum() > 0


def test_growing_refuses_other_changes() -> None:
    base = NetworkConfig(num_keypoints=17, width=32, init_width=48, num_blocks=2)
    source = _randomised(base, 0)
    with pytest.raises(ValueError, match="width"):
        load_grown(LGDNetwork(NetworkConfig(num_keypoints=17, width=64, init_width=48,
                                            num_blocks=3)), source)
    with pytest.raises(ValueError, match="2 -> 1 blocks"):
        load_grown(LGDNetwork(NetworkConfig(num_keypoints=17, width=32, init_width=48,
                                            num_blocks=1)), source)
