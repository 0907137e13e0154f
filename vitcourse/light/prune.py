"""Pruning attention heads by importance (Michel et al., 2019, "Are Sixteen Heads Really Better than One?").

Each head's output is multiplied by a gate xi_h (1 = kept). The importance of a head is how much
the loss would change if its gate moved: |dL / dxi_h|, accumulated over batches of training
images (per batch rather than per image: cheaper, and an approximation of the paper's per-example
average), then normalised per layer. Heads are removed least important first.

Gates are applied with forward pre-hooks on each attention's output projection U_msa, whose
input is the heads' outputs side by side, so nothing in vitcourse.models changes. `prune_heads`
then removes the heads for real: the rows of U_qkv and the columns of U_msa that belong to them,
so the pruned model is smaller and faster, not just masked. Every layer keeps at least one head.
"""

from __future__ import annotations

import contextlib
import copy

import torch
import torch.nn.functional as F
from torch import nn


def _attentions(model) -> list[nn.Module]:
    return [block.attn for block in model.blocks]


def head_counts(model) -> list[int]:
    return [attn.heads for attn in _attentions(model)]


@contextlib.contextmanager
def head_gates(model, gates: list[torch.Tensor]):
    """Multiply each head's output in layer l by gates[l][h] while the context is open."""
    handles = []
    for attn, gate in zip(_attentions(model), gates, strict=True):
        if gate.shape != (attn.heads,):
            raise ValueError(f"a gate of shape {tuple(gate.shape)} for a layer with {attn.heads} heads")

        def hook(module, args, gate=gate, d=attn.head_dim):
            return (args[0] * gate.to(args[0].dtype).repeat_interleave(d),)
        handles.append(attn.proj.register_forward_pre_hook(hook))
    try:
        yield gates
    finally:
        for handle in handles:
            handle.remove()


def mask_heads(model, mask: torch.Tensor):
    """Context: heads with mask[l, h] == 0 contribute nothing (mask: (layers, heads) of 0/1)."""
    device = next(model.parameters()).device
    return head_gates(model, [mask[i, :n].float().to(device) for i, n in enumerate(head_counts(model))])


def head_importance(model, batches, normalise: bool = True) -> torch.Tensor:
    """(layers, max heads): |dL/d gate| summed over `batches` of (images, labels); padding is NaN."""
    device = next(model.parameters()).device
    counts = head_counts(model)
    gates = [torch.ones(n, device=device, requires_grad=True) for n in counts]
    total = [torch.zeros(n, device=device) for n in counts]
    was_training = model.training
    model.eval()  # importance of the model as it predicts: no dropout noise
    try:
        with torch.enable_grad(), head_gates(model, gates):
            for images, labels in batches:
                loss = F.cross_entropy(model(images.to(device)).float(), labels.to(device))
                for t, g in zip(total, torch.autograd.grad(loss, gates)):
                    t += g.abs()
    finally:
        model.train(was_training)
    if normalise:  # Michel et al.: per-layer L2 normalisation makes layers comparable
        total = [t / t.norm().clamp_min(1e-12) for t in total]
    out = torch.full((len(counts), max(counts)), float("nan"))
    for i, t in enumerate(total):
        out[i, :len(t)] = t.detach().cpu()
    return out


def pruning_order(importance: torch.Tensor, keep_per_layer: int = 1) -> list[tuple[int, int]]:
    """(layer, head) pairs from least to most important, leaving `keep_per_layer` heads in every layer."""
    pairs = [(importance[l, h].item(), l, h) for l in range(importance.shape[0])
             for h in range(importance.shape[1]) if not torch.isnan(importance[l, h])]
    left = {l: int((~torch.isnan(importance[l])).sum()) for l in range(importance.shape[0])}
    order = []
    for _, l, h in sorted(pairs):
        if left[l] > keep_per_layer:
            order.append((l, h))
            left[l] -= 1
    return order


@torch.no_grad()
def prune_heads(model, heads: dict[int, list[int]] | list[tuple[int, int]], inplace: bool = False):
    """Remove the given heads ({layer: [heads]} or [(layer, head)]) from a ViT for real."""
    model = model if inplace else copy.deepcopy(model)
    if not isinstance(heads, dict):
        grouped: dict[int, list[int]] = {}
        for l, h in heads:
            grouped.setdefault(l, []).append(h)
        heads = grouped
    for l, drop in heads.items():
        attn = model.blocks[l].attn
        keep = [h for h in range(attn.heads) if h not in set(drop)]
        if not keep:
            raise ValueError(f"pruning every head of layer {l} would leave its attention empty: keep at least one")
        d, n = attn.head_dim, attn.heads
        # U_qkv's outputs are laid out (three, heads, head_dim); U_msa's inputs (heads, head_dim).
        rows = torch.cat([torch.arange(t * n * d + h * d, t * n * d + (h + 1) * d) for t in range(3) for h in keep])
        cols = torch.cat([torch.arange(h * d, (h + 1) * d) for h in keep])
        qkv = nn.Linear(attn.qkv.in_features, len(rows), bias=attn.qkv.bias is not None).to(attn.qkv.weight)
        qkv.weight.copy_(attn.qkv.weight[rows])
        if attn.qkv.bias is not None:
            qkv.bias.copy_(attn.qkv.bias[rows])
        proj = nn.Linear(len(cols), attn.proj.out_features).to(attn.proj.weight)
        proj.weight.copy_(attn.proj.weight[:, cols])
        proj.bias.copy_(attn.proj.bias)
        attn.qkv, attn.proj, attn.heads = qkv, proj, len(keep)
    return model
