"""Closed-form parameter count of a ViT, term by term (checked against the module in tests)."""


def vit_param_count(image_size=224, patch_size=16, in_channels=3, num_classes=1000, dim=768,
                    depth=12, heads=12, mlp_ratio=4.0, *, pool="cls", pos_embed="learned",
                    class_token=None, qkv_bias=True, pre_logits=False, norm="layer", breakdown=False, **_):
    h, w = (image_size, image_size) if isinstance(image_size, int) else image_size
    n = (h // patch_size) * (w // patch_size)
    prefix = int(pool == "cls" if class_token is None else class_token)
    mlp_dim = int(dim * mlp_ratio)
    positions = {"learned": (prefix + n) * dim,
                 "learned2d": (h // patch_size + w // patch_size) * (dim // 2) + prefix * dim,
                 "sincos2d": 0, "none": 0}[pos_embed]
    norm_params = 2 * dim  # LayerNorm: gain and bias; BatchNorm: weight and bias (its statistics are buffers)
    block = (2 * norm_params
             + dim * 3 * dim + (3 * dim if qkv_bias else 0)   # U_qkv
             + dim * dim + dim                                  # U_msa
             + dim * mlp_dim + mlp_dim + mlp_dim * dim + dim)   # MLP
    terms = {
        "patch embedding E (+ bias)": patch_size * patch_size * in_channels * dim + dim,
        "class token": prefix * dim,
        "position embeddings": positions,
        f"{depth} encoder blocks": depth * block,
        "final norm": norm_params,
        "pre-logits (tanh)": (dim * dim + dim) if pre_logits else 0,
        "head": (dim * num_classes + num_classes) if num_classes > 0 else 0,
    }
    return terms if breakdown else sum(terms.values())
