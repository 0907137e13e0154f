"""Masked autoencoder in the style of He et al. (2022): hide most patches, encode the rest, and
reconstruct the hidden pixels with a small decoder.

The encoder is an unmodified vitcourse `ViT` (its classification head removed) and sees only the
visible patches -- with 75% masking, a quarter of the tokens, which makes pre-training cheap.
The decoder gets the encoded visible tokens plus a shared learned [mask] token at every hidden
position, adds its own (fixed sine-cosine) position embeddings so it knows where each hidden patch
was, and predicts each patch's pixels. The loss is the mean squared error over hidden patches
only: predicting a visible patch would be copying. With `norm_pix_loss` the target of each patch
is its pixels standardised by the patch's own mean and variance (MAE's better-performing choice).
After pre-training the decoder is thrown away and the encoder is fine-tuned.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vitcourse.models import EncoderBlock, ViT, sincos_2d_table

from .encoder import check_encoder, patch_positions, run_blocks
from .masking import gather_tokens, patchify, positions_to_mask, random_subset, unpatchify


def patch_stats(target: torch.Tensor, eps: float = 1e-6) -> tuple[torch.Tensor, torch.Tensor]:
    """Each patch's (last axis) mean and standard deviation (with `eps` added to the variance)."""
    mean = target.mean(dim=-1, keepdim=True)
    var = target.var(dim=-1, keepdim=True, unbiased=False)
    return mean, (var + eps).sqrt()


def normalise_patches(target: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Standardise each patch (last axis) by its own mean and variance."""
    mean, std = patch_stats(target, eps)
    return (target - mean) / std


def masked_mse(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared error per patch, averaged over the patches where `mask` is 1 (B, N)."""
    per_patch = (pred.float() - target.float()).pow(2).mean(dim=-1)
    return (per_patch * mask).sum() / mask.sum().clamp(min=1.0)


@dataclass
class MAEOutput:
    loss: torch.Tensor
    pred: torch.Tensor      # (B, N, P*P*C) predictions for every patch (in target space)
    target: torch.Tensor    # (B, N, P*P*C) what was predicted (pixels, standardised if norm_pix_loss)
    mask: torch.Tensor      # (B, N) 1 = hidden from the encoder


class MaskedAutoencoder(nn.Module):
    def __init__(self, encoder: ViT, mask_ratio: float = 0.75, decoder_dim: int = 128,
                 decoder_depth: int = 2, decoder_heads: int = 4, decoder_mlp_ratio: float = 4.0,
                 norm_pix_loss: bool = True):
        super().__init__()
        encoder = check_encoder(encoder, "MaskedAutoencoder")
        if not 0.0 <= mask_ratio < 1.0:
            raise ValueError(f"mask_ratio={mask_ratio} must be in [0, 1): at least one patch has to stay visible.")
        if decoder_dim % 4:
            raise ValueError(f"decoder_dim={decoder_dim} must be divisible by 4 (sine-cosine positions).")
        encoder.reset_classifier(0)  # pre-training has no classes; fine-tuning adds a fresh head
        self.encoder = encoder
        self.mask_ratio, self.norm_pix_loss = mask_ratio, norm_pix_loss
        self.patch_size, self.channels = encoder.patch_size, encoder.in_channels
        num_patches = encoder.num_patches
        # The same count for every image: round(N * (1 - ratio)), but never zero.
        self.num_visible = max(1, round(num_patches * (1.0 - mask_ratio)))
        dim = encoder.config["dim"]
        self.decoder_embed = nn.Linear(dim, decoder_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_dim))
        table = sincos_2d_table(encoder.grid, decoder_dim)
        prefix = torch.zeros(encoder.num_prefix, decoder_dim)
        self.register_buffer("decoder_pos", torch.cat([prefix, table])[None], persistent=False)
        self.decoder_blocks = nn.ModuleList(
            EncoderBlock(decoder_dim, decoder_heads, int(decoder_dim * decoder_mlp_ratio))
            for _ in range(decoder_depth))
        self.decoder_norm = nn.LayerNorm(decoder_dim, eps=1e-6)
        self.decoder_pred = nn.Linear(decoder_dim, self.patch_size ** 2 * self.channels)
        nn.init.normal_(self.mask_token, std=0.02)
        nn.init.xavier_uniform_(self.decoder_embed.weight)
        nn.init.zeros_(self.decoder_embed.bias)

    def encode_visible(self, images: torch.Tensor, visible: torch.Tensor) -> torch.Tensor:
        """Encode only the patches at positions `visible` (B, k) -> (B, prefix + k, D)."""
        enc = self.encoder
        enc._check_input(images)
        tokens = enc.patch_embed(images)
        positions = patch_positions(enc)
        if positions is not None:
            tokens = tokens + positions  # positions first, then drop: each token keeps its own
        return run_blocks(enc, gather_tokens(tokens, visible))

    def decode(self, latent: torch.Tensor, restore: torch.Tensor) -> torch.Tensor:
        """Visible latents + [mask] tokens, put back in grid order -> pixel predictions (B, N, P*P*C)."""
        prefix = self.encoder.num_prefix
        x = self.decoder_embed(latent)
        batch, num_patches = restore.shape
        hidden = self.mask_token.to(x.dtype).expand(batch, num_patches - (x.shape[1] - prefix), -1)
        patches = gather_tokens(torch.cat([x[:, prefix:], hidden], dim=1), restore)
        x = torch.cat([x[:, :prefix], patches], dim=1) + self.decoder_pos
        for block in self.decoder_blocks:
            x = block(x)
        return self.decoder_pred(self.decoder_norm(x))[:, prefix:]

    def target(self, images: torch.Tensor) -> torch.Tensor:
        target = patchify(images, self.patch_size)
        return normalise_patches(target) if self.norm_pix_loss else target

    def run(self, images: torch.Tensor, generator: torch.Generator | None = None) -> MAEOutput:
        batch, num_patches = images.shape[0], self.encoder.num_patches
        visible, hidden, restore = random_subset(batch, num_patches, self.num_visible,
                                                 images.device, generator)
        pred = self.decode(self.encode_visible(images, visible), restore)
        mask = positions_to_mask(hidden, num_patches)
        target = self.target(images)
        return MAEOutput(masked_mse(pred, target, mask), pred, target, mask)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The pre-training loss (what `fit` minimises)."""
        return self.run(images).loss

    @torch.no_grad()
    def reconstruct(self, images: torch.Tensor, generator: torch.Generator | None = None):
        """(masked input, reconstruction) as images, for figures. Visible patches of the
        reconstruction are the input's own; hidden ones are the prediction, mapped back to pixel
        values with the true patch's mean and variance when the target was standardised."""
        out = self.run(images, generator)
        pixels = patchify(images, self.patch_size)
        pred = out.pred.float()
        if self.norm_pix_loss:
            mean, std = patch_stats(pixels)
            pred = pred * std + mean
        hidden = out.mask.unsqueeze(-1)
        grid, c, p = self.encoder.grid, self.channels, self.patch_size
        masked = pixels * (1 - hidden)
        mixed = pixels * (1 - hidden) + pred * hidden
        return unpatchify(masked, p, grid, c), unpatchify(mixed, p, grid, c), out.mask
