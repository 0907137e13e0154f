"""vitcourse's ViT is timm's VisionTransformer: same logits (fp32, <= 1e-5) both ways.

Offline, the timm models are randomly initialised (pretrained=False); online readers get the
pre-trained weights through the same conversion. Random init leaves the head at zero in some timm
versions' inits, so the head is re-randomised to make the logits comparison meaningful.
"""

import pytest
import timm
import torch
from timm.layers import resample_abs_pos_embed

from vitcourse.models import ViT, from_timm, load_timm_vit, resample_grid_embedding, to_timm

TIMM_MODELS = {
    "vit_tiny_patch16_224": 224,
    "vit_small_patch16_224": 224,
    "vit_base_patch16_224": 224,
    "vit_base_patch32_224": 224,
    "vit_base_patch16_gap_224": 224,   # global average pooling, no class token
    "vit_tiny_patch16_384": 384,       # a non-224 image size
}


def _randomise(model):
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "head" in name or "cls_token" in name:
                p.normal_(0, 0.02)
    return model.eval()


@pytest.mark.parametrize("name", TIMM_MODELS)
def test_from_timm_gives_identical_logits(name):
    torch.manual_seed(0)
    ref = _randomise(timm.create_model(name, pretrained=False))
    vit = from_timm(ref).eval()
    size = TIMM_MODELS[name]
    x = torch.randn(2, 3, size, size)
    with torch.no_grad():
        a, b = ref(x), vit(x)
        assert torch.equal(ref.forward_features(x), vit.forward_features(x)) or \
            (ref.forward_features(x) - vit.forward_features(x)).abs().max() <= 1e-5
    assert (a - b).abs().max().item() <= 1e-5
    assert vit.num_parameters() == sum(p.numel() for p in ref.parameters())
    assert a.abs().max() > 1e-3  # the comparison is not between two zero vectors


@pytest.mark.parametrize("kw", [dict(), dict(pool="gap"), dict(pool="gap", norm_after_pool=True),
                                dict(pos_embed="none"), dict(patch_embed="linear", qkv_bias=False)])
def test_to_timm_round_trip(kw):
    torch.manual_seed(0)
    vit = ViT(image_size=32, patch_size=4, num_classes=10, dim=64, depth=2, heads=4, **kw).eval()
    torch.nn.init.normal_(vit.head.weight, std=0.02)
    m = to_timm(vit).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        assert (m(x) - vit(x)).abs().max().item() <= 1e-5
        back = from_timm(m).eval()
        assert (back(x) - vit(x)).abs().max().item() <= 1e-5


def test_from_timm_refuses_features_the_paper_lacks():
    m = timm.create_model("vit_tiny_patch16_224", pretrained=False, reg_tokens=4, no_embed_class=True)
    with pytest.raises(NotImplementedError, match="register tokens"):
        from_timm(m)
    m = timm.create_model("vit_tiny_patch16_224", pretrained=False, init_values=1e-5)
    with pytest.raises(NotImplementedError, match="layer scale"):
        from_timm(m)
    with pytest.raises(TypeError, match="timm VisionTransformer"):
        from_timm(torch.nn.Linear(2, 2))


def test_to_timm_refuses_variants_without_timm_equivalent():
    with pytest.raises(NotImplementedError, match="post-norm"):
        to_timm(ViT(image_size=16, patch_size=4, num_classes=2, dim=16, depth=1, heads=2, prenorm=False))


@pytest.mark.parametrize("new_grid", [(24, 24), (12, 20), (14, 14)])
def test_position_resampling_matches_timm(new_grid):
    torch.manual_seed(0)
    table = torch.randn(1, 1 + 14 * 14, 64)
    ours = resample_grid_embedding(table, (14, 14), new_grid, num_prefix=1)
    ref = resample_abs_pos_embed(table, new_size=list(new_grid), old_size=[14, 14], num_prefix_tokens=1)
    torch.testing.assert_close(ours, ref, atol=1e-6, rtol=1e-6)


def test_higher_resolution_model_matches_timm_resampled_model():
    """Fine-tuning at 384 px: our set_image_size equals timm's model built at 384 from 224 weights."""
    torch.manual_seed(0)
    ref224 = _randomise(timm.create_model("vit_tiny_patch16_224", pretrained=False))
    ref384 = timm.create_model("vit_tiny_patch16_384", pretrained=False).eval()
    state = ref224.state_dict()
    state["pos_embed"] = resample_abs_pos_embed(state["pos_embed"], new_size=[24, 24], num_prefix_tokens=1)
    ref384.load_state_dict(state)
    vit = from_timm(ref224).set_image_size(384).eval()
    x = torch.randn(1, 3, 384, 384)
    with torch.no_grad():
        assert (ref384(x) - vit(x)).abs().max().item() <= 1e-5


def test_load_timm_vit_from_local_safetensors_file(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    ref = _randomise(timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=10))
    path = tmp_path / "model.safetensors"
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))
    vit = load_timm_vit("vit_tiny_patch16_224", weights=path, num_classes=10).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert (ref(x) - vit(x)).abs().max().item() <= 1e-5
    with pytest.raises(FileNotFoundError, match="missing.safetensors"):
        load_timm_vit("vit_tiny_patch16_224", weights=tmp_path / "missing.safetensors")
    (tmp_path / "w.pth").write_bytes(b"x")
    with pytest.raises(ValueError, match="only safetensors"):
        load_timm_vit("vit_tiny_patch16_224", weights=tmp_path / "w.pth")
    with pytest.raises(ValueError, match="do not fit"):
        load_timm_vit("vit_small_patch16_224", weights=path)
