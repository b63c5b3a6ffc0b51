"""Shared building blocks (models.layers): the streams' fast input pool is exact."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from featref.models.layers import (
    InceptionBlock,
    InceptionStream,
    InceptionStreams,
    _max_pool_3x3_same,
)


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_shifted_maximum_equals_max_pool_with_ties_and_nan(layout):
    x = (torch.rand(4, 3, 28, 28, generator=torch.Generator().manual_seed(0)) * 8).floor() / 8
    x[0, 1, 5, 7] = float("nan")  # ties (8 levels) and a NaN, as 8-bit flow images have
    x[1, 2, 0, 0] = -5.0  # a corner: padding must not win
    x = x.contiguous(memory_format=layout)
    ref = F.max_pool2d(x, 3, stride=1, padding=1)
    assert torch.equal(torch.nan_to_num(_max_pool_3x3_same(x), 9.0), torch.nan_to_num(ref, 9.0))


def test_streams_equal_their_streams_one_by_one():
    """InceptionStreams (one input pool for all components) = each stream on its own slice, to
    the bit, outputs and weight gradients alike: run folders computed before it stay valid."""
    torch.manual_seed(0)
    streams = InceptionStreams(InceptionStream(1, (6, 16)) for _ in range(3))
    x = torch.rand(32, 3, 28, 28).contiguous(memory_format=torch.channels_last)

    def outputs_and_grads(forward):
        streams.zero_grad()
        out = forward(x)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        return out.detach(), [p.grad.clone() for p in streams.parameters()]

    one_by_one = outputs_and_grads(
        lambda t: torch.cat([s(t[:, i : i + 1]) for i, s in enumerate(streams)], 1)
    )
    together = outputs_and_grads(streams)
    assert torch.equal(together[0], one_by_one[0])
    assert all(torch.equal(a, b) for a, b in zip(together[1], one_by_one[1]))
    xg = x.clone().requires_grad_(True)  # an input with a gradient takes max_pool2d itself
    assert torch.equal(streams(xg), one_by_one[0])


def test_block_keeps_its_branch_order_and_rounding():
    """The block runs its branches 1x1, 3x3, 5x5, pool, as featref always has: autograd sums the
    branches' input gradients in that order, so another order rounds differently and training
    drifts from run folders computed before (a reordering did, by 1e-4 in loss after 4 epochs)."""
    torch.manual_seed(0)
    block = InceptionBlock(24, 16)
    x = torch.rand(32, 24, 14, 14).contiguous(memory_format=torch.channels_last)

    def input_grad(forward):
        xg = x.clone().requires_grad_(True)
        out = forward(xg)
        (out * torch.linspace(-1, 1, out.numel()).view_as(out)).sum().backward()
        return xg.grad

    reference = input_grad(
        lambda t: torch.cat(
            [block.branch1(t), block.branch3(t), block.branch5(t), block.branch_pool(t)], 1
        )
    )
    assert torch.equal(input_grad(block), reference)
