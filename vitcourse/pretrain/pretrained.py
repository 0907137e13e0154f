"""ImageNet-pre-trained weights from timm, for the online path of the transfer chapter.

`load_pretrained(name)` returns a vitcourse model (a `ViT` through `from_timm`, or the
torchvision-form `ResNet` for "resnet18") carrying timm's pre-trained weights, found in this order:
  1. `weights=` a local .safetensors file;
  2. `$VITCOURSE_WEIGHTS_DIR/<name>.safetensors` (how an offline machine is given the weights);
  3. timm's download from the Hugging Face hub (needs network access), unless `offline=True`.
When none works, `PretrainedWeightsUnavailable` says exactly which file to fetch and where to put it.
Nothing is unpickled: only safetensors files are read.
"""

from __future__ import annotations

import os
from pathlib import Path

from torch import nn

from vitcourse.models import ResNet, load_timm_vit, resnet18
from vitcourse.models.timm_convert import load_safetensors_into

WEIGHTS_DIR_ENV = "VITCOURSE_WEIGHTS_DIR"
RESNETS = ("resnet18",)


class PretrainedWeightsUnavailable(RuntimeError):
    """Pre-trained weights could not be downloaded and no local copy was given."""


def hub_id(name: str) -> str:
    """The Hugging Face repository timm downloads `name`'s default weights from."""
    import timm

    try:
        cfg = timm.models.get_pretrained_cfg(name)
    except Exception:  # noqa: BLE001 -- an unknown name: fall back to timm's naming scheme
        cfg = None
    return getattr(cfg, "hf_hub_id", None) or f"timm/{name}"


def unavailable_message(name: str, reason: str) -> str:
    repo = hub_id(name)
    return (f"pre-trained weights for {name!r} are not available: {reason}.\n"
            f"Two ways to fix this:\n"
            f"  - online: run on a machine that can reach huggingface.co (timm downloads {repo});\n"
            f"  - offline: on a machine with network access download "
            f"https://huggingface.co/{repo}/resolve/main/model.safetensors, copy it to this machine as "
            f"<folder>/{name}.safetensors, and set {WEIGHTS_DIR_ENV}=<folder> "
            f"(or pass weights='<path>.safetensors').")


def local_weights(name: str) -> Path | None:
    folder = os.environ.get(WEIGHTS_DIR_ENV)
    if folder and (Path(folder) / f"{name}.safetensors").is_file():
        return Path(folder) / f"{name}.safetensors"
    return None


def _load_resnet18(weights: Path | None) -> ResNet:
    """timm's resnet18 uses torchvision's parameter names, which vitcourse's ImageNet-stem ResNet
    shares: its state dict loads key for key (strictly)."""
    import timm

    model = resnet18(num_classes=1000, stem="imagenet")
    if weights is not None:
        return load_safetensors_into(model, weights, "resnet18")
    try:
        model.load_state_dict(timm.create_model("resnet18", pretrained=True).state_dict(), strict=True)
    except RuntimeError as err:
        raise ValueError(f"timm's resnet18 weights do not fit resnet18: {str(err).splitlines()[0]}") from err
    return model


def load_pretrained(name: str, weights: str | Path | None = None, offline: bool = False) -> nn.Module:
    """timm model `name` with its pre-trained ImageNet weights, as a vitcourse model (1000 classes)."""
    path = Path(weights) if weights is not None else local_weights(name)
    if path is not None:
        if not path.is_file():
            raise PretrainedWeightsUnavailable(unavailable_message(name, f"the file {str(path)!r} does not exist"))
        return _load_resnet18(path) if name in RESNETS else load_timm_vit(name, weights=path)
    if offline:
        raise PretrainedWeightsUnavailable(unavailable_message(
            name, f"downloads are switched off (offline=True) and ${WEIGHTS_DIR_ENV} holds no {name}.safetensors"))
    try:
        return _load_resnet18(None) if name in RESNETS else load_timm_vit(name)
    except (NotImplementedError, TypeError):
        raise  # a model vitcourse cannot represent: not a download problem
    except Exception as err:  # noqa: BLE001 -- network failures surface as many exception types
        raise PretrainedWeightsUnavailable(unavailable_message(
            name, f"the download failed ({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})")) from err
