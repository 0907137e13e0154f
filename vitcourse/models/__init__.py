"""The models of the course: the paper's ViT, module by module, and the ResNet-18 baseline."""

from .attention import MultiHeadSelfAttention, attention_weights
from .blocks import MLP, DropPath, EncoderBlock, TokenBatchNorm
from .params import vit_param_count
from .patch_embed import ConvPatchEmbed, LinearPatchEmbed, copy_conv_to_linear, copy_linear_to_conv
from .position import resample_grid_embedding, sincos_2d_table
from .resnet import ResNet, resnet18
from .timm_convert import from_timm, load_timm_vit, to_timm
from .vit import ViT

__all__ = [
    "ViT", "MultiHeadSelfAttention", "attention_weights", "MLP", "DropPath", "EncoderBlock",
    "TokenBatchNorm", "ConvPatchEmbed", "LinearPatchEmbed", "copy_conv_to_linear", "copy_linear_to_conv",
    "resample_grid_embedding", "sincos_2d_table", "vit_param_count", "ResNet", "resnet18",
    "from_timm", "to_timm", "load_timm_vit",
]
