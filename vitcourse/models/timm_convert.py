"""Conversion to and from timm's VisionTransformer: the proof that `ViT` is the paper's model.

`from_timm(m)` builds a vitcourse ViT with m's architecture and copies its weights; the two then
compute the same function (tests check logits to 1e-5). Online readers load real pre-trained
weights this way (`timm.create_model(name, pretrained=True)`, or a local weights file, see
`load_timm_vit`). `to_timm(vit)` goes the other way. Only plain ViTs are converted: a timm feature
the paper's model lacks (register tokens, layer scale, ...) is refused with a message naming it.
"""

from functools import partial
from pathlib import Path

from torch import nn

from .patch_embed import ConvPatchEmbed, LinearPatchEmbed, copy_linear_to_conv
from .vit import ViT


def _timm_vit_class():
    try:
        from timm.models.vision_transformer import VisionTransformer
    except ImportError as e:  # timm is a course requirement, but the model itself does not need it
        raise ImportError("timm is needed for conversion: pip install -r requirements.txt") from e
    return VisionTransformer


def _refuse_extras(m):
    """Name the first timm feature that has no counterpart in the paper's ViT."""
    block = m.blocks[0]
    checks = {
        "register tokens (reg_tokens > 0)": getattr(m, "num_reg_tokens", 0) > 0,
        "position embeddings not covering the class token (no_embed_class=True)":
            getattr(m, "no_embed_class", False) and m.cls_token is not None,
        "a pre-encoder norm (pre_norm=True)": not isinstance(m.norm_pre, nn.Identity),
        "a norm inside the patch embedding": not isinstance(m.patch_embed.norm, nn.Identity),
        "layer scale (init_values)": not isinstance(block.ls1, nn.Identity),
        "query/key normalisation (qk_norm)": not isinstance(getattr(block.attn, "q_norm", nn.Identity()), nn.Identity),
        "attention pooling (global_pool='map')": getattr(m, "attn_pool", None) is not None,
        "pooling other than 'token' or 'avg'": m.global_pool not in ("token", "avg"),
        "dynamic image size": getattr(m, "dynamic_img_size", False),
        "an MLP other than Linear-GELU-Linear": not (hasattr(block.mlp, "fc1") and isinstance(block.mlp.act, nn.GELU)),
        "a non-square patch": m.patch_embed.patch_size[0] != m.patch_embed.patch_size[1],
    }
    for feature, present in checks.items():
        if present:
            raise NotImplementedError(f"this timm model uses {feature}, which the paper's ViT (and "
                                      f"vitcourse.models.ViT) does not have; convert a plain ViT instead.")


def from_timm(m) -> ViT:
    """A vitcourse ViT computing the same function as the timm VisionTransformer `m`."""
    if not isinstance(m, _timm_vit_class()):
        raise TypeError(f"from_timm expects a timm VisionTransformer, got {type(m).__name__}.")
    _refuse_extras(m)
    block = m.blocks[0]
    norm_after_pool = not isinstance(m.fc_norm, nn.Identity)
    final_norm = m.fc_norm if norm_after_pool else m.norm
    vit = ViT(
        image_size=tuple(m.patch_embed.img_size), patch_size=m.patch_embed.patch_size[0],
        in_channels=m.patch_embed.proj.in_channels, num_classes=m.num_classes, dim=m.embed_dim,
        depth=len(m.blocks), heads=block.attn.num_heads,
        mlp_ratio=block.mlp.fc1.out_features / m.embed_dim,
        pool="cls" if m.global_pool == "token" else "gap",
        pos_embed="learned" if m.pos_embed is not None else "none",
        class_token=m.cls_token is not None, qkv_bias=block.attn.qkv.bias is not None,
        norm_eps=final_norm.eps, norm_after_pool=norm_after_pool)
    state = dict(m.state_dict())
    if "pos_embed" in state:
        state["pos_embed.weight"] = state.pop("pos_embed")
    if norm_after_pool:
        state = {k.replace("fc_norm.", "norm.", 1) if k.startswith("fc_norm.") else k: v for k, v in state.items()}
    vit.load_state_dict(state, strict=True)
    return vit


def to_timm(vit: ViT):
    """A timm VisionTransformer computing the same function as `vit` (plain configurations only)."""
    c = vit.config
    unsupported = {
        "pos_embed other than 'learned'/'none'": c["pos_embed"] not in ("learned", "none"),
        "norm='batch'": c["norm"] != "layer",
        "post-norm blocks (prenorm=False)": not c["prenorm"],
        "a tanh pre-logits layer": c["pre_logits"],
    }
    for feature, present in unsupported.items():
        if present:
            raise NotImplementedError(f"timm's VisionTransformer has no equivalent of {feature}.")
    m = _timm_vit_class()(
        img_size=c["image_size"], patch_size=c["patch_size"], in_chans=c["in_channels"],
        num_classes=c["num_classes"], global_pool="token" if c["pool"] == "cls" else "avg",
        embed_dim=c["dim"], depth=c["depth"], num_heads=c["heads"], mlp_ratio=c["mlp_ratio"],
        qkv_bias=c["qkv_bias"], class_token=c["class_token"], fc_norm=c["norm_after_pool"],
        pos_embed="learn" if c["pos_embed"] == "learned" else "none",
        norm_layer=partial(nn.LayerNorm, eps=c["norm_eps"]))
    state = dict(vit.state_dict())
    if isinstance(vit.patch_embed, LinearPatchEmbed):  # timm stores the conv form
        conv = copy_linear_to_conv(vit.patch_embed, ConvPatchEmbed(c["patch_size"], c["in_channels"], c["dim"]))
        state.update({f"patch_embed.{k}": v for k, v in conv.state_dict().items()})
    if "pos_embed.weight" in state:
        state["pos_embed"] = state.pop("pos_embed.weight")
    if c["norm_after_pool"]:
        state = {("fc_norm." + k[5:]) if k.startswith("norm.") else k: v for k, v in state.items()}
    m.load_state_dict(state, strict=True)
    return m


def load_timm_vit(name: str, weights: str | Path | None = None, **kwargs) -> ViT:
    """timm model `name` as a vitcourse ViT, with pre-trained weights.

    weights=None downloads timm's pre-trained weights (needs network access); a path loads a local
    `.safetensors` file (an offline machine: download it elsewhere, e.g. the model's
    `model.safetensors` from its hub page, and copy it over). Nothing is unpickled.
    """
    import timm

    if weights is None:
        return from_timm(timm.create_model(name, pretrained=True, **kwargs))
    m = timm.create_model(name, pretrained=False, **kwargs)
    return from_timm(load_safetensors_into(m, weights, f"timm model {name!r} (kwargs {kwargs})"))


def load_safetensors_into(module: nn.Module, weights: str | Path, what: str) -> nn.Module:
    """Load a local ``.safetensors`` file into ``module``, strictly (every key, every shape);
    nothing is unpickled. ``what`` names the module in errors."""
    path = Path(weights)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {str(path)!r} does not exist: pass the path of a local "
                                f".safetensors file for {what}, or weights=None to download (online).")
    if path.suffix != ".safetensors":
        raise ValueError(f"weights file {str(path)!r} is not .safetensors: only safetensors files are loaded "
                         f"(pickled checkpoints can run code); convert it with safetensors.torch.save_file.")
    from safetensors.torch import load_file

    try:
        module.load_state_dict(load_file(str(path)), strict=True)
    except RuntimeError as e:
        raise ValueError(f"weights in {str(path)!r} do not fit {what}: {str(e).splitlines()[0]}") from e
    return module
