"""Multi-head self-attention (MSA), Eq. (2) of the paper.

[q, k, v] = z U_qkv;  A = softmax(q k^T / sqrt(D_h));  SA(z) = A v, for each of k heads with
D_h = D / k; the heads are concatenated and projected by U_msa. The explicit path spells this out
and can hand back A for inspection; the fused path calls PyTorch's scaled_dot_product_attention
(flash / memory-efficient kernels on GPU). Both compute the same function.
"""

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn


def attention_weights(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """softmax(q k^T / sqrt(d_head)) over the last axis; q, k: (..., N, d_head)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.softmax(dim=-1)


class MultiHeadSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, qkv_bias: bool = True, attn_dropout: float = 0.0,
                 proj_dropout: float = 0.0, fused: bool = True):
        super().__init__()
        if heads <= 0 or dim % heads:
            raise ValueError(
                f"width dim={dim} is not divisible by heads={heads}: each head gets D/heads "
                f"dimensions, so pick heads among the divisors of {dim} (e.g. "
                f"{', '.join(str(h) for h in range(1, 17) if dim % h == 0)})."
            )
        self.heads = heads
        self.head_dim = dim // heads
        self.fused = fused
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)  # U_qkv for all heads at once
        self.attn_drop = nn.Dropout(attn_dropout)
        self.proj = nn.Linear(dim, dim)  # U_msa
        self.proj_drop = nn.Dropout(proj_dropout)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        if self.fused and not return_attention:
            p = self.attn_drop.p if self.training else 0.0
            out = F.scaled_dot_product_attention(q, k, v, dropout_p=p)
            attn = None
        else:
            attn = attention_weights(q, k)  # B, heads, N, N
            out = self.attn_drop(attn) @ v
        out = self.proj_drop(self.proj(rearrange(out, "b h n d -> b n (h d)")))
        return (out, attn) if return_attention else out
