"""Position embeddings: the only place a ViT learns where a patch came from.

- `learned`   1-D learned table E_pos in R^{(N+1) x D} (the paper's default; the class token has a row)
- `learned2d` learned X and Y tables of D/2 each, concatenated per patch (the paper's 2-D variant)
- `sincos2d`  fixed sine/cosine of row and column (no parameters)
- `none`      no position information at all (the ablation in Table 8)

Each module returns a (1, prefix + N, D) tensor added to the token sequence (prefix = 1 when a
class token is used), and can be resampled to a new patch grid for higher-resolution fine-tuning
with the prefix (class-token) rows kept aside, as the paper does.
"""

import torch
import torch.nn.functional as F
from torch import nn

POS_EMBEDS = ("learned", "learned2d", "sincos2d", "none")


def resample_grid_embedding(posemb: torch.Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int],
                            num_prefix: int = 1, interpolation: str = "bicubic",
                            antialias: bool = True) -> torch.Tensor:
    """Interpolate a (1, prefix + h*w, D) table from grid `old_grid` to `new_grid` in 2-D.

    The prefix rows (class token) are not spatial, so they are carried over unchanged.
    Defaults follow timm (bicubic, antialiased); the paper's code interpolates linearly.
    """
    prefix, grid = posemb[:, :num_prefix], posemb[:, num_prefix:]
    if grid.shape[1] != old_grid[0] * old_grid[1]:
        raise ValueError(f"position table has {grid.shape[1]} grid rows, but old_grid={old_grid} "
                         f"needs {old_grid[0] * old_grid[1]}: pass the grid the table was trained on.")
    dim, dtype = grid.shape[-1], grid.dtype
    grid = grid.float().reshape(1, *old_grid, dim).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=new_grid, mode=interpolation, antialias=antialias)
    grid = grid.permute(0, 2, 3, 1).reshape(1, -1, dim).to(dtype)
    return torch.cat([prefix, grid], dim=1)


def sincos_2d_table(grid: tuple[int, int], dim: int, temperature: float = 10000.0) -> torch.Tensor:
    """(h*w, D) table: a quarter of the dims each for sin(row), cos(row), sin(col), cos(col)."""
    if dim % 4:
        raise ValueError(f"pos_embed='sincos2d' needs dim divisible by 4, got dim={dim}: "
                         f"use a multiple of 4 or pos_embed='learned'.")
    rows, cols = torch.meshgrid(torch.arange(grid[0]), torch.arange(grid[1]), indexing="ij")
    freqs = temperature ** -(torch.arange(dim // 4) / max(dim // 4 - 1, 1))
    r = rows.flatten()[:, None] * freqs[None]
    c = cols.flatten()[:, None] * freqs[None]
    return torch.cat([r.sin(), r.cos(), c.sin(), c.cos()], dim=1)


class LearnedPositionEmbedding(nn.Module):
    def __init__(self, grid: tuple[int, int], dim: int, num_prefix: int):
        super().__init__()
        self.grid, self.num_prefix = tuple(grid), num_prefix
        self.weight = nn.Parameter(torch.randn(1, num_prefix + grid[0] * grid[1], dim) * 0.02)

    def forward(self) -> torch.Tensor:
        return self.weight

    @torch.no_grad()
    def resample(self, new_grid, interpolation="bicubic", antialias=True):
        table = resample_grid_embedding(self.weight, self.grid, new_grid, self.num_prefix, interpolation, antialias)
        self.weight = nn.Parameter(table)
        self.grid = tuple(new_grid)


class Learned2dPositionEmbedding(nn.Module):
    """Patch (i, j) gets [row_i ; col_j]; the class token gets its own learned vector."""

    def __init__(self, grid: tuple[int, int], dim: int, num_prefix: int):
        super().__init__()
        if dim % 2:
            raise ValueError(f"pos_embed='learned2d' splits dim into X and Y halves, so dim must be even; got {dim}.")
        self.grid, self.num_prefix = tuple(grid), num_prefix
        self.rows = nn.Parameter(torch.randn(grid[0], dim // 2) * 0.02)
        self.cols = nn.Parameter(torch.randn(grid[1], dim // 2) * 0.02)
        self.prefix = nn.Parameter(torch.randn(1, num_prefix, dim) * 0.02)

    def forward(self) -> torch.Tensor:
        h, w = self.grid
        table = torch.cat([self.rows[:, None].expand(h, w, -1), self.cols[None].expand(h, w, -1)], dim=-1)
        return torch.cat([self.prefix, table.reshape(1, h * w, -1)], dim=1)

    @torch.no_grad()
    def resample(self, new_grid, interpolation="bicubic", antialias=True):
        # Each axis is a 1-D sequence: interpolate rows and columns separately.
        def one_axis(t, n):
            mode = "linear" if interpolation in ("bilinear", "bicubic") else interpolation
            return F.interpolate(t.T[None], size=n, mode=mode)[0].T.contiguous()
        self.rows = nn.Parameter(one_axis(self.rows, new_grid[0]))
        self.cols = nn.Parameter(one_axis(self.cols, new_grid[1]))
        self.grid = tuple(new_grid)


class SinCos2dPositionEmbedding(nn.Module):
    def __init__(self, grid: tuple[int, int], dim: int, num_prefix: int):
        super().__init__()
        self.grid, self.dim, self.num_prefix = tuple(grid), dim, num_prefix
        self.register_buffer("table", self._table(), persistent=False)

    def _table(self) -> torch.Tensor:
        # The class token carries no position: its row is zero.
        return torch.cat([torch.zeros(self.num_prefix, self.dim), sincos_2d_table(self.grid, self.dim)])[None]

    def forward(self) -> torch.Tensor:
        return self.table

    def resample(self, new_grid, interpolation="bicubic", antialias=True):
        self.grid = tuple(new_grid)
        self.table = self._table().to(self.table.device)


def make_position_embedding(kind: str, grid, dim: int, num_prefix: int):
    table = {"learned": LearnedPositionEmbedding, "learned2d": Learned2dPositionEmbedding,
             "sincos2d": SinCos2dPositionEmbedding}
    if kind == "none":
        return None
    if kind not in table:
        raise ValueError(f"unknown pos_embed={kind!r}: use one of {POS_EMBEDS} ('learned' is the paper's).")
    return table[kind](grid, dim, num_prefix)
