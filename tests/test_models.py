"""The ViT modules: each form agrees with its twin, shapes follow the paper, bad input is named."""

import pytest
import torch

from vitcourse.models import (ConvPatchEmbed, DropPath, EncoderBlock, LinearPatchEmbed,
                              MultiHeadSelfAttention, ViT, copy_conv_to_linear, copy_linear_to_conv,
                              resnet18, vit_param_count)
from vitcourse.models.attention import attention_weights


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_patch_embeddings_are_the_same_function():
    conv, lin = ConvPatchEmbed(4, 3, 32), LinearPatchEmbed(4, 3, 32)
    x = torch.randn(2, 3, 16, 24)
    copy_conv_to_linear(conv, lin)
    assert conv(x).shape == (2, 4 * 6, 32)
    torch.testing.assert_close(lin(x), conv(x), atol=1e-5, rtol=1e-5)
    # and back again, starting from a fresh linear layer
    lin2, conv2 = LinearPatchEmbed(4, 3, 32), ConvPatchEmbed(4, 3, 32)
    copy_linear_to_conv(lin2, conv2)
    torch.testing.assert_close(conv2(x), lin2(x), atol=1e-5, rtol=1e-5)


def test_linear_patch_order_is_row_major_pixels_channels_last():
    lin = LinearPatchEmbed(2, 3, 1)
    x = torch.arange(12.0).reshape(1, 3, 2, 2)  # one 2x2 patch with 3 channels
    patches = lin.to_patches(x)[0, 0]
    assert patches.tolist() == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]


def test_explicit_and_fused_attention_agree():
    attn = MultiHeadSelfAttention(64, 8).eval()
    x = torch.randn(3, 17, 64)
    fused = attn(x)
    attn.fused = False
    explicit, weights = attn(x, return_attention=True)
    torch.testing.assert_close(fused, explicit, atol=1e-5, rtol=1e-5)
    assert weights.shape == (3, 8, 17, 17)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3, 8, 17))


def test_attention_weights_use_per_head_scale():
    q, k = torch.randn(1, 5, 16), torch.randn(1, 7, 16)
    manual = torch.softmax(q @ k.transpose(1, 2) / 4.0, dim=-1)  # sqrt(d_head = 16) = 4
    torch.testing.assert_close(attention_weights(q, k), manual)


def test_drop_path_keeps_expectation_and_is_identity_in_eval():
    dp = DropPath(0.5)
    x = torch.ones(20000, 4)
    out = dp.train()(x)
    assert set(out[:, 0].unique().tolist()) == {0.0, 2.0}
    assert abs(out.mean().item() - 1.0) < 0.05
    assert torch.equal(dp.eval()(x), x)


@pytest.mark.parametrize("prenorm", [True, False])
@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_encoder_block_variants_keep_shape_and_differ(prenorm, norm):
    block = EncoderBlock(32, 4, 64, prenorm=prenorm, norm=norm).eval()
    x = torch.randn(2, 9, 32)
    y, attn = block(x, return_attention=True)
    assert y.shape == x.shape and attn.shape == (2, 4, 9, 9)
    torch.testing.assert_close(block(x), y, atol=1e-5, rtol=1e-5)


def test_pre_and_post_norm_are_different_functions():
    pre = EncoderBlock(16, 2, 32, prenorm=True)
    post = EncoderBlock(16, 2, 32, prenorm=False)
    post.load_state_dict(pre.state_dict())
    x = torch.randn(2, 5, 16)
    assert not torch.allclose(pre(x), post(x))
    assert torch.allclose(post(x).mean(-1), torch.zeros(2, 5), atol=1e-5)  # post-norm output is normalised


def test_vit_b16_shapes_follow_the_paper():
    vit = ViT()  # ViT-B/16 at 224
    x = torch.randn(1, 3, 224, 224)
    tokens = vit.embed(x)
    assert tokens.shape == (1, 197, 768)
    assert vit.blocks[0].attn.heads == 12 and vit.blocks[0].attn.head_dim == 64
    assert vit.blocks[0].mlp.fc1.out_features == 3072
    assert vit.num_parameters() == 86_567_656


TABLE1 = {"base": (768, 12, 12, 16, 86), "large": (1024, 24, 16, 16, 307), "huge": (1280, 32, 16, 14, 632)}


@pytest.mark.parametrize("name", TABLE1)
def test_param_formula_reproduces_table1(name):
    dim, depth, heads, patch, millions = TABLE1[name]
    # Table 1 rounds and does not say which patch size or head it counted: the encoder with its
    # patch embedding (no classifier head) is within 1.5% of the published figure for all three.
    count = vit_param_count(dim=dim, depth=depth, heads=heads, patch_size=patch, num_classes=0)
    assert count / 1e6 == pytest.approx(millions, rel=0.015)


CONFIGS = [
    dict(),
    dict(pool="gap"),
    dict(pool="gap", class_token=True),
    dict(pos_embed="learned2d"),
    dict(pos_embed="sincos2d"),
    dict(pos_embed="none", pre_logits=True),
    dict(norm="batch", prenorm=False, qkv_bias=False),
    dict(image_size=(16, 24), in_channels=1, mlp_ratio=2.0, patch_embed="linear"),
]


@pytest.mark.parametrize("kw", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_param_formula_matches_module_and_forward_works(kw):
    args = dict(image_size=32, patch_size=4, num_classes=10, dim=48, depth=2, heads=4) | kw
    vit = ViT(**args)
    assert vit.num_parameters() == vit_param_count(**vit.config)
    h, w = vit.image_size
    x = torch.randn(2, vit.in_channels, h, w)
    assert vit(x).shape == (2, 10)
    assert len(vit.attention_maps(x)) == 2


def test_head_is_zero_initialised_and_class_token_zero():
    vit = ViT(image_size=32, patch_size=8, num_classes=5, dim=32, depth=1, heads=2)
    assert torch.count_nonzero(vit.head.weight) == 0 and torch.count_nonzero(vit.cls_token) == 0
    assert 0.015 < vit.pos_embed.weight.std().item() < 0.025


def test_reset_classifier_drops_pre_logits_and_zero_inits_head():
    vit = ViT(image_size=16, patch_size=4, num_classes=100, dim=16, depth=1, heads=2, pre_logits=True)
    vit.reset_classifier(7)
    assert isinstance(vit.pre_logits, torch.nn.Identity) and vit.head.out_features == 7
    assert torch.count_nonzero(vit.head.weight) == 0
    assert vit.num_parameters() == vit_param_count(**vit.config)


def test_gap_pools_patch_tokens_only():
    vit = ViT(image_size=16, patch_size=4, num_classes=3, dim=16, depth=1, heads=2, pool="gap", class_token=True).eval()
    x = torch.randn(2, 3, 16, 16)
    tokens = vit.forward_features(x)
    torch.testing.assert_close(vit.forward_head(tokens, pre_logits=True), tokens[:, 1:].mean(1))


def test_set_image_size_resamples_positions_and_keeps_class_row():
    vit = ViT(image_size=32, patch_size=4, num_classes=10, dim=32, depth=1, heads=2)
    cls_row = vit.pos_embed.weight[:, :1].clone()
    vit.set_image_size(48)
    assert vit.pos_embed.weight.shape == (1, 1 + 12 * 12, 32)
    assert torch.equal(vit.pos_embed.weight[:, :1], cls_row)
    assert vit(torch.randn(1, 3, 48, 48)).shape == (1, 10)


@pytest.mark.parametrize("kind", ["learned2d", "sincos2d"])
def test_set_image_size_for_2d_embeddings(kind):
    vit = ViT(image_size=32, patch_size=4, num_classes=10, dim=32, depth=1, heads=2, pos_embed=kind)
    vit.set_image_size((40, 48))
    assert vit.pos_embed().shape == (1, 1 + 10 * 12, 32)
    assert vit(torch.randn(1, 3, 40, 48)).shape == (1, 10)


def test_same_resolution_resample_is_identity():
    vit = ViT(image_size=32, patch_size=4, num_classes=10, dim=32, depth=1, heads=2)
    before = vit.pos_embed.weight.clone()
    vit.set_image_size(32)
    torch.testing.assert_close(vit.pos_embed.weight, before, atol=1e-6, rtol=1e-6)


# ---- bad input: the error names the value and the fix --------------------------------------------

@pytest.mark.parametrize("kw, words", [
    (dict(image_size=30, patch_size=4), ["30x30", "patch_size=4", "divisible"]),
    (dict(dim=50, heads=4), ["dim=50", "heads=4", "divisors"]),
    (dict(pool="max"), ["pool='max'", "'cls'", "'gap'"]),
    (dict(pos_embed="rope"), ["pos_embed='rope'", "learned"]),
    (dict(norm="group"), ["norm='group'", "layer"]),
    (dict(pos_embed="sincos2d", dim=42, heads=2), ["dim=42", "multiple of 4"]),
    (dict(pool="cls", class_token=False), ["class_token=True", "gap"]),
    (dict(patch_embed="mlp"), ["patch_embed='mlp'"]),
])
def test_bad_configuration_errors_name_value_and_fix(kw, words):
    args = dict(image_size=32, patch_size=4, num_classes=10, dim=32, depth=1, heads=2) | kw
    with pytest.raises(ValueError) as err:
        ViT(**args)
    for w in words:
        assert w in str(err.value), (w, str(err.value))


@pytest.mark.parametrize("shape, words", [
    ((3, 32, 32), ["(3, 32, 32)", "unsqueeze(0)"]),
    ((1, 1, 32, 32), ["1 channels", "in_channels=3"]),
    ((1, 3, 64, 64), ["64x64", "32x32", "set_image_size"]),
])
def test_bad_input_errors_name_value_and_fix(shape, words):
    vit = ViT(image_size=32, patch_size=4, num_classes=10, dim=32, depth=1, heads=2)
    with pytest.raises(ValueError) as err:
        vit(torch.randn(*shape))
    for w in words:
        assert w in str(err.value), (w, str(err.value))


# ---- ResNet-18 -----------------------------------------------------------------------------------

def test_resnet18_imagenet_stem_is_torchvisions_resnet18():
    from torchvision.models import resnet18 as tv_resnet18

    ref = tv_resnet18(num_classes=10).eval()
    ours = resnet18(num_classes=10, stem="imagenet").eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


def test_resnet18_cifar_stem_keeps_resolution_and_counts():
    net = resnet18(num_classes=10, stem="cifar")
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert net.conv1.kernel_size == (3, 3) and isinstance(net.maxpool, torch.nn.Identity)
    assert sum(p.numel() for p in net.parameters()) == 11_173_962
    with pytest.raises(ValueError, match="stem='tiny'"):
        resnet18(stem="tiny")
