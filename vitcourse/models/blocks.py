"""The pieces of one encoder layer: MLP, normalisation, stochastic depth, and the block itself.

Eq. (2)-(3): z'_l = MSA(LN(z_{l-1})) + z_{l-1};  z_l = MLP(LN(z'_l)) + z'_l  (pre-norm, as in
ViT). `prenorm=False` gives the original Transformer's post-norm layout, z' = LN(z + MSA(z)),
and `norm="batch"` swaps LayerNorm for BatchNorm over tokens: both are lab variants, not the paper.
"""

import torch
from torch import nn

from .attention import MultiHeadSelfAttention



@torch.no_grad()
def xavier_linears_(module: nn.Module) -> None:
    """The reference JAX code's Dense init for every linear layer in `module`: Xavier-uniform
    weights, zero biases."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

class MLP(nn.Module):
    """Two linear layers with a GELU between them (D -> hidden -> D)."""

    def __init__(self, dim: int, hidden_dim: int, dropout: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class TokenBatchNorm(nn.Module):
    """BatchNorm1d over the feature axis of a (B, N, D) token tensor: statistics pool batch and tokens."""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.bn = nn.BatchNorm1d(dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x.transpose(1, 2)).transpose(1, 2)


NORMS = ("layer", "batch")


def make_norm(kind: str, dim: int, eps: float = 1e-6) -> nn.Module:
    if kind == "layer":
        return nn.LayerNorm(dim, eps=eps)
    if kind == "batch":
        return TokenBatchNorm(dim)
    raise ValueError(f"unknown norm={kind!r}: use one of {NORMS} ('layer' is the paper's).")


class DropPath(nn.Module):
    """Stochastic depth: drop a residual branch for whole samples with probability p while training."""

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"drop_path={p} must be in [0, 1).")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep  # rescale so the expected value is unchanged


class EncoderBlock(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_dim: int, *, qkv_bias: bool = True,
                 dropout: float = 0.0, attn_dropout: float = 0.0, drop_path: float = 0.0,
                 norm: str = "layer", prenorm: bool = True, norm_eps: float = 1e-6, fused: bool = True):
        super().__init__()
        self.prenorm = prenorm
        self.norm1 = make_norm(norm, dim, norm_eps)
        self.attn = MultiHeadSelfAttention(dim, heads, qkv_bias, attn_dropout, dropout, fused)
        self.norm2 = make_norm(norm, dim, norm_eps)
        self.mlp = MLP(dim, mlp_dim, dropout)
        self.drop_path = DropPath(drop_path)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self):
        xavier_linears_(self)

    def _attend(self, x: torch.Tensor, return_attention: bool):
        return self.attn(x, return_attention=True) if return_attention else (self.attn(x), None)

    def forward(self, x: torch.Tensor, return_attention: bool = False):
        if self.prenorm:
            a, attn = self._attend(self.norm1(x), return_attention)
            x = x + self.drop_path(a)
            x = x + self.drop_path(self.mlp(self.norm2(x)))
        else:  # post-norm: normalise after each residual sum, as in Vaswani et al. (2017)
            a, attn = self._attend(x, return_attention)
            x = self.norm1(x + self.drop_path(a))
            x = self.norm2(x + self.drop_path(self.mlp(x)))
        return (x, attn) if return_attention else x
