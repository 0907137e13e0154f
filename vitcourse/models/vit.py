"""The Vision Transformer (Dosovitskiy et al., 2021), Eq. (1)-(4).

    z_0 = [x_class; x_p^1 E; ...; x_p^N E] + E_pos       (patch embedding, class token, positions)
    z_l = encoder block l (pre-norm MSA and MLP, residuals),  l = 1..L
    y   = LN(z_L^0)                                        (final norm; class token or mean of tokens)
    logits = head(y)       head: tanh pre-logits MLP at pre-training (optional), then a linear layer

Defaults are the paper's: conv patch embedding, learned 1-D positions, class-token pooling,
pre-norm LayerNorm (eps 1e-6), initialisation as in the reference JAX code.
"""

import math

import torch
from torch import nn

from .blocks import EncoderBlock, make_norm, xavier_linears_
from .patch_embed import PATCH_EMBEDS, check_image_and_patch
from .position import make_position_embedding

POOLS = ("cls", "gap")


def _pair(size) -> tuple[int, int]:
    return (size, size) if isinstance(size, int) else tuple(size)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_arguments(*, image_size, mlp_ratio, dropout, attn_dropout, drop_path, **counts) -> None:
    """One clear error naming the bad value and the fix, before any layer is built."""
    sizes = [image_size] if _is_int(image_size) else list(image_size) if isinstance(image_size, (tuple, list)) else None
    if not sizes or len(sizes) > 2 or not all(_is_int(v) and v > 0 for v in sizes):
        raise ValueError(f"image_size={image_size!r}: give a positive int (square images) or a "
                         f"(height, width) pair of ints, e.g. image_size=32.")
    minimum = {"num_classes": 0}   # 0: no classification head (features only), as in timm
    for name, value in counts.items():
        low = minimum.get(name, 1)
        if not _is_int(value) or value < low:
            raise ValueError(f"{name}={value!r} must be an int >= {low}.")
    if not mlp_ratio > 0:
        raise ValueError(f"mlp_ratio={mlp_ratio!r} must be positive (the paper uses 4.0).")
    for name, p in (("dropout", dropout), ("attn_dropout", attn_dropout), ("drop_path", drop_path)):
        if not 0 <= p < 1:
            raise ValueError(f"{name}={p!r} must be a probability in [0, 1).")


class ViT(nn.Module):
    def __init__(self, image_size=224, patch_size: int = 16, in_channels: int = 3, num_classes: int = 1000,
                 dim: int = 768, depth: int = 12, heads: int = 12, mlp_ratio: float = 4.0, *,
                 pool: str = "cls", pos_embed: str = "learned", class_token: bool | None = None,
                 qkv_bias: bool = True, pre_logits: bool = False, dropout: float = 0.0,
                 attn_dropout: float = 0.0, drop_path: float = 0.0, norm: str = "layer",
                 prenorm: bool = True, norm_eps: float = 1e-6, norm_after_pool: bool = False,
                 patch_embed: str = "conv", fused_attention: bool = True):
        super().__init__()
        _check_arguments(image_size=image_size, patch_size=patch_size, in_channels=in_channels,
                         num_classes=num_classes, dim=dim, depth=depth, heads=heads, mlp_ratio=mlp_ratio,
                         dropout=dropout, attn_dropout=attn_dropout, drop_path=drop_path)
        if pool not in POOLS:
            raise ValueError(f"unknown pool={pool!r}: use 'cls' (the class token, the paper's default) "
                             f"or 'gap' (global average of the patch tokens).")
        if patch_embed not in PATCH_EMBEDS:
            raise ValueError(f"unknown patch_embed={patch_embed!r}: use one of {tuple(PATCH_EMBEDS)}.")
        self.image_size = _pair(image_size)
        self.grid = check_image_and_patch(self.image_size, patch_size)
        class_token = (pool == "cls") if class_token is None else class_token
        if pool == "cls" and not class_token:
            raise ValueError("pool='cls' needs a class token: set class_token=True or use pool='gap'.")
        self.config = dict(image_size=self.image_size, patch_size=patch_size, in_channels=in_channels,
                           num_classes=num_classes, dim=dim, depth=depth, heads=heads, mlp_ratio=mlp_ratio,
                           pool=pool, pos_embed=pos_embed, class_token=class_token, qkv_bias=qkv_bias,
                           pre_logits=pre_logits, dropout=dropout, attn_dropout=attn_dropout,
                           drop_path=drop_path, norm=norm, prenorm=prenorm, norm_eps=norm_eps,
                           norm_after_pool=norm_after_pool, patch_embed=patch_embed)
        self.patch_size, self.in_channels, self.pool = patch_size, in_channels, pool
        self.num_prefix = int(class_token)
        self.mlp_dim = int(dim * mlp_ratio)

        self.patch_embed = PATCH_EMBEDS[patch_embed](patch_size, in_channels, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if class_token else None
        self.pos_embed = make_position_embedding(pos_embed, self.grid, dim, self.num_prefix)
        self.pos_drop = nn.Dropout(dropout)
        rates = [drop_path * i / max(depth - 1, 1) for i in range(depth)]  # deeper blocks dropped more often
        self.blocks = nn.ModuleList(
            EncoderBlock(dim, heads, self.mlp_dim, qkv_bias=qkv_bias, dropout=dropout,
                         attn_dropout=attn_dropout, drop_path=r, norm=norm, prenorm=prenorm,
                         norm_eps=norm_eps, fused=fused_attention) for r in rates)
        self.norm = make_norm(norm, dim, norm_eps)
        self.pre_logits = nn.Sequential(nn.Linear(dim, dim), nn.Tanh()) if pre_logits else nn.Identity()
        self.head = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self):
        """Initialisation of the reference JAX code: Xavier-uniform linears with zero bias,
        LeCun-normal patch projection, N(0, 0.02) positions, zero class token, zero head."""
        xavier_linears_(self)
        proj = self.patch_embed.proj
        nn.init.trunc_normal_(proj.weight, std=math.sqrt(1.0 / proj.weight[0].numel()))
        nn.init.zeros_(proj.bias)
        if isinstance(self.head, nn.Linear):
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def _check_input(self, images: torch.Tensor):
        if images.ndim != 4:
            raise ValueError(f"expected images of shape (batch, {self.in_channels}, {self.image_size[0]}, "
                             f"{self.image_size[1]}), got {tuple(images.shape)}: add a batch axis with "
                             f"images.unsqueeze(0) for a single image.")
        if images.shape[1] != self.in_channels and images.shape[-1] == self.in_channels:
            raise ValueError(f"images of shape {tuple(images.shape)} look channels-last (batch, height, width, "
                             f"channels); the model takes (batch, channels, height, width): pass "
                             f"images.permute(0, 3, 1, 2).")
        if not images.is_floating_point():
            raise ValueError(f"images are {images.dtype}; the model takes normalised floats: convert them, e.g. "
                             f"vitcourse.data.normalised(images, mean, std) for uint8 pixels.")
        if images.shape[1] != self.in_channels:
            raise ValueError(f"images have {images.shape[1]} channels but the model was built with "
                             f"in_channels={self.in_channels}: convert the images or build ViT(in_channels="
                             f"{images.shape[1]}).")
        if tuple(images.shape[2:]) != self.image_size:
            raise ValueError(f"images are {images.shape[2]}x{images.shape[3]} but the model expects "
                             f"{self.image_size[0]}x{self.image_size[1]}: resize the images, or call "
                             f"model.set_image_size({tuple(images.shape[2:])}) to resample the position "
                             f"embeddings for the new grid.")

    def prefix(self, batch: int) -> torch.Tensor | None:
        """The `num_prefix` learned tokens put in front of the patches, (batch, num_prefix, D): the
        class token, or None without one. Variants with more prefix tokens (DeiT) override this."""
        return None if self.cls_token is None else self.cls_token.expand(batch, -1, -1)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Eq. (1): patch tokens, class token in front, position embeddings added -> (B, prefix+N, D)."""
        self._check_input(images)
        x = self.patch_embed(images)
        if (prefix := self.prefix(x.shape[0])) is not None:
            x = torch.cat([prefix, x], dim=1)
        if self.pos_embed is not None:
            x = x + self.pos_embed()
        return self.pos_drop(x)

    def forward_features(self, images: torch.Tensor, return_attention: bool = False):
        """All tokens after the encoder (and the final norm, unless it comes after pooling)."""
        x, maps = self.embed(images), []
        for block in self.blocks:
            if return_attention:
                x, attn = block(x, return_attention=True)
                maps.append(attn)
            else:
                x = block(x)
        if not self.config["norm_after_pool"]:
            x = self.norm(x)
        return (x, maps) if return_attention else x

    def forward_head(self, tokens: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Eq. (4) and the head: pool to one vector per image, then classify."""
        y = tokens[:, 0] if self.pool == "cls" else tokens[:, self.num_prefix:].mean(dim=1)
        if self.config["norm_after_pool"]:
            y = self.norm(y)
        y = self.pre_logits(y)
        return y if pre_logits else self.head(y)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(images))

    def attention_maps(self, images: torch.Tensor) -> list[torch.Tensor]:
        """Per layer, the attention weights A (B, heads, T, T) computed by the explicit path."""
        return self.forward_features(images, return_attention=True)[1]

    def set_image_size(self, image_size, interpolation: str = "bicubic", antialias: bool = True):
        """Adapt to a new input resolution with the same patch size: the sequence gets longer and the
        position embeddings are interpolated in 2-D (class-token row kept aside), as in the paper."""
        image_size = _pair(image_size)
        grid = check_image_and_patch(image_size, self.patch_size)
        if self.pos_embed is not None:
            self.pos_embed.resample(grid, interpolation, antialias)
        self.image_size, self.grid = image_size, grid
        self.config["image_size"] = image_size
        return self

    def reset_classifier(self, num_classes: int, keep_pre_logits: bool = False):
        """Fine-tuning head: the paper drops the tanh pre-logits layer and puts a zero-initialised
        D x K linear layer in its place."""
        dim = self.config["dim"]
        if not keep_pre_logits:
            self.pre_logits = nn.Identity()
            self.config["pre_logits"] = False
        self.head = nn.Linear(dim, num_classes) if num_classes > 0 else nn.Identity()
        if num_classes > 0:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
        self.config["num_classes"] = num_classes
        return self

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    @property
    def num_patches(self) -> int:
        return self.grid[0] * self.grid[1]
