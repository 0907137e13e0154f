"""Moving a pre-trained encoder into a classifier, and freezing it for a linear probe.

A pre-training run saves a wrapper (a masked autoencoder, a masked-patch predictor, a linear
probe) or a classifier; fine-tuning wants an ordinary `ViT` with a fresh head. `encoder_of`
finds the `ViT` inside any of them and `transfer_encoder` copies everything but the head,
resampling the position embeddings when the fine-tuning resolution differs (the paper's recipe
for fine-tuning at higher resolution: same patch size, longer sequence).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from vitcourse.models import ResNet, ViT

HEAD_PREFIXES = ("head.", "pre_logits.")
RESNET_HEAD_PREFIXES = ("fc.",)


def head_prefixes(model: nn.Module) -> tuple[str, ...]:
    """Names of the classifier's own parameters, which fine-tuning re-initialises."""
    return RESNET_HEAD_PREFIXES if isinstance(model, ResNet) else HEAD_PREFIXES


def encoder_of(model: nn.Module) -> ViT:
    """The `ViT` a model is built around: itself, or a wrapper's `encoder` / `backbone`."""
    if isinstance(model, ViT):
        return model
    for name in ("encoder", "backbone"):
        inner = getattr(model, name, None)
        if isinstance(inner, ViT):
            return inner
    raise TypeError(f"no vitcourse ViT found in {type(model).__name__}: expected a ViT or a wrapper "
                    f"with an .encoder or .backbone ViT.")


@torch.no_grad()
def transfer_encoder(source: nn.Module, target: ViT) -> list[str]:
    """Copy every weight of `source`'s encoder except the classification head into `target`.

    If `target` is built for another image size (same patch size), the position embeddings are
    resampled to its grid first; `source` itself is left unchanged. Returns the copied names.
    """
    src = encoder_of(source)
    if not isinstance(target, ViT):
        raise TypeError(f"transfer_encoder copies into a vitcourse ViT, got {type(target).__name__}.")
    if src.patch_size != target.patch_size:
        raise ValueError(f"patch size {src.patch_size} (pre-trained) vs {target.patch_size} (target): "
                         f"fine-tune with the pre-training patch size; only the image size may change.")
    if src.image_size != target.image_size:
        src = copy.deepcopy(src).set_image_size(target.image_size)
    wanted = target.state_dict()
    copied = []
    for name, value in src.state_dict().items():
        if name.startswith(HEAD_PREFIXES) or name not in wanted:
            continue
        if wanted[name].shape != value.shape:
            raise ValueError(f"{name}: pre-trained shape {tuple(value.shape)} does not fit the target's "
                             f"{tuple(wanted[name].shape)}: build the fine-tuning model with the "
                             f"pre-training model's dim, depth, heads and mlp_ratio.")
        wanted[name].copy_(value)
        copied.append(name)
    missing = [n for n in wanted if n not in copied and not n.startswith(HEAD_PREFIXES)]
    if missing:
        raise ValueError(f"the pre-trained encoder lacks {missing[:4]}: its architecture differs "
                         f"from the target's (position embedding kind, class token, norm?).")
    return copied


@torch.no_grad()
def load_resnet_backbone(state: dict, target: ResNet, source_name: str) -> list[str]:
    """Copy every weight of a ResNet state dict except its classifier (``fc``) into ``target``."""
    kept = {k: v for k, v in state.items() if not k.startswith(RESNET_HEAD_PREFIXES)}
    wanted = target.state_dict()
    misfits = [k for k, v in kept.items() if k in wanted and wanted[k].shape != v.shape]
    if misfits:
        raise ValueError(f"{source_name} does not fit the experiment's ResNet: {misfits[0]} has shape "
                         f"{tuple(kept[misfits[0]].shape)}, the target's {tuple(wanted[misfits[0]].shape)} "
                         f"(build the fine-tuning model with the source's stem and width).")
    result = target.load_state_dict(kept, strict=False)
    head = sorted(k for k in wanted if k.startswith(RESNET_HEAD_PREFIXES))
    if sorted(result.missing_keys) != head or result.unexpected_keys:
        raise ValueError(f"{source_name} does not fit the experiment's ResNet: missing "
                         f"{result.missing_keys[:4]}, unexpected {result.unexpected_keys[:4]} (build the "
                         f"fine-tuning model with the source's stem and width).")
    return list(kept)


def transfer_backbone(source: nn.Module, target: nn.Module, source_name: str | None = None) -> list[str]:
    """`transfer_encoder` for a ViT target; for a ResNet target, everything but ``fc`` from the
    ResNet in ``source`` (itself or a pre-training wrapper's ``backbone``). ``source_name`` names
    the source in errors (default: its class)."""
    if not isinstance(target, ResNet):
        return transfer_encoder(source, target)
    inner = source if isinstance(source, ResNet) else getattr(source, "backbone", None)
    if not isinstance(inner, ResNet):
        raise TypeError(f"no vitcourse ResNet found in {type(source).__name__} to fine-tune a ResNet from.")
    return load_resnet_backbone(inner.state_dict(), target, source_name or type(source).__name__)


class LinearProbe(nn.Module):
    """A frozen backbone and one trainable linear layer on its pooled features.

    The backbone's parameters get requires_grad=False (the optimizer then never sees them) and it
    stays in eval mode even while the probe trains, so dropout or stochastic depth in the backbone
    cannot make the features noisy: only the linear layer learns.
    """

    def __init__(self, backbone: ViT, num_classes: int):
        super().__init__()
        backbone.reset_classifier(0)
        self.backbone = backbone.requires_grad_(False)
        self.head = nn.Linear(backbone.config["dim"], num_classes)
        nn.init.zeros_(self.head.weight)  # as the paper's fine-tuning head
        nn.init.zeros_(self.head.bias)

    def train(self, mode: bool = True):
        super().train(mode)
        self.backbone.eval()
        return self

    def features(self, images: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.backbone.forward_head(self.backbone.forward_features(images), pre_logits=True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))
