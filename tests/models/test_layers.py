"""Shared building blocks (models.layers): the streams' fast input pool is exact."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from featref.models.layers import InceptionStream, InceptionStreams, _max_pool_3x3_same


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_shifted_maximum_equals_max_pool_with_ties_and_nan(layout):
    x = (torch.rand(4, 3, 28, 28, generator=torch.Generator().manual_seed(0)) * 8).floor() / 8
    x[0, 1, 5, 7] = float("nan")  # ties (8 levels) and a NaN, as 8-bit flow images have
    x[1, 2, 0, 0] = -5.0  # a corner: padding must not win
    x = x.contiguous(memory_format=layout)
    ref = F.max_pool2d(x, 3, stride=1, padding=1)
    assert torch.equal(torch.nan_to_num(_max_pool_3x3_same(x), 9.0), torch.nan_to_num(ref, 9.0))


def test_streams_equal_their_streams_one_by_one():
    """InceptionStreams (one input pool for all components) = each stream on its own slice."""
    torch.manual_seed(0)
    streams = InceptionStreams(InceptionStream(1, (6, 16)) for _ in range(3))
    x = torch.rand(5, 3, 28, 28).contiguous(memory_format=torch.channels_last)
    one_by_one = torch.cat([s(x[:, i : i + 1]) for i, s in enumerate(streams)], 1)
    assert torch.allclose(streams(x), one_by_one, atol=1e-6, rtol=0)
    xg = x.clone().requires_grad_(True)  # an input with a gradient takes max_pool2d itself
    assert torch.allclose(streams(xg), one_by_one, atol=1e-6, rtol=0)
