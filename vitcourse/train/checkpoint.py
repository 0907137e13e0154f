"""Per-epoch checkpoints: tensors in safetensors, everything else in JSON; no pickle anywhere.

Files in ``<run_dir>/checkpoint/``: ``epoch_0003.safetensors`` (model weights and buffers,
optimizer state tensors) and ``epoch_0003.json`` (epoch, optimizer hyperparameters and scalar
state, plus whatever the loop adds: config, metrics so far, wall time). The tensors file is
written first and the JSON last, both atomically, so a JSON file's presence means its checkpoint
is complete; a kill in between leaves an orphan tensors file that is ignored and later removed.
Older epochs are deleted only after a newer checkpoint is complete, so a crash or a divergence
always leaves the last good one. Clean-up removes only files this module writes, by their exact
names (``epoch_NNNN.*`` and the temporary files of processes no longer running); anything else in
the folder is left alone. The JSON file records the tensors file's sha256, verified on load.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from .errors import ResumeMismatch
from vitcourse.atomic import process_running, read_json, write_json_atomic, write_safetensors_atomic
from vitcourse.atomic import file_sha256

FORMAT = 1
_NAME = re.compile(r"^epoch_(\d{4,})\.json$")
_OWN = re.compile(r"^epoch_\d{4,}\.(safetensors|json)$")                 # a checkpoint's two files
_TMP = re.compile(r"^\.epoch_\d{4,}\.tmp(\d+)\.(safetensors|json)$")    # vitcourse.atomic's temporary files


class CheckpointError(ResumeMismatch):
    """A checkpoint that cannot be used (unreadable, changed since it was written, not safetensors)."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = Path(path)
        super().__init__(
            f"checkpoint {path}: {problem}. Delete {self.path.with_suffix('.json').name} and "
            f"{self.path.with_suffix('.safetensors').name} in {self.path.parent} to start the run again "
            "from scratch (only the last epoch's checkpoint is kept), or restore them from a copy.")


def _paths(ckpt_dir: Path, epoch: int) -> tuple[Path, Path]:
    stem = ckpt_dir / f"epoch_{epoch:04d}"
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def _json_safe(value: Any) -> Any:
    """Optimizer hyperparameters: tuples become lists, 0-d tensors numbers."""
    if isinstance(value, (tuple, list)):
        return [_json_safe(v) for v in value]
    if isinstance(value, torch.Tensor):
        return value.item()
    return value


def _split_optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Optimizer state dict -> (tensors for safetensors, JSON part)."""
    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, entries in sd["state"].items():
        for key, value in entries.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer/{index}/{key}"] = value
            else:  # e.g. an int 'step' in older torch, or a None momentum buffer
                scalars.setdefault(str(index), {})[key] = _json_safe(value)
    groups = [{k: _json_safe(v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalar_state": scalars}


def save_checkpoint(ckpt_dir: str | Path, epoch: int, model: nn.Module,
                    optimizer: torch.optim.Optimizer, state: dict[str, Any],
                    average: nn.Module | None = None) -> Path:
    """Write the checkpoint after ``epoch`` (1-based) and remove older ones; returns the JSON path.

    ``model`` must be the plain module (not DDP- or compile-wrapped), so names have no prefixes;
    ``average``: the weight average's module, when the run keeps one.
    """
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    tensors_path, json_path = _paths(ckpt_dir, epoch)
    opt_tensors, opt_json = _split_optimizer_state(optimizer)
    tensors = {f"model/{k}": v for k, v in model.state_dict().items()} | opt_tensors
    if average is not None:
        tensors |= {f"average/{k}": v for k, v in average.state_dict().items()}
    write_safetensors_atomic(tensors_path, tensors)
    write_json_atomic(json_path, {
        "format": FORMAT, "epoch": epoch, "tensors_file": tensors_path.name,
        "tensors_bytes": tensors_path.stat().st_size, "tensors_sha256": file_sha256(tensors_path),
        "optimizer": opt_json, "state": state,
    })
    for old in ckpt_dir.iterdir():
        if old.name not in (tensors_path.name, json_path.name) and _ours_to_remove(old.name):
            old.unlink(missing_ok=True)
    return json_path


def _ours_to_remove(name: str) -> bool:
    """Older epochs and orphans, or a temporary file of a process that is no longer running."""
    if _OWN.match(name):
        return True
    tmp = _TMP.match(name)
    return bool(tmp) and not process_running(int(tmp.group(1)))


def latest_checkpoint(ckpt_dir: str | Path) -> Path | None:
    """The JSON file of the newest complete checkpoint, or None."""
    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        return None
    found = []
    for path in ckpt_dir.iterdir():
        match = _NAME.match(path.name)
        if match and path.is_file() and path.with_suffix(".safetensors").is_file():
            found.append((int(match.group(1)), path))
    return max(found)[1] if found else None


def read_checkpoint_meta(json_path: str | Path) -> dict[str, Any]:
    try:
        meta = read_json(json_path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(json_path, f"its record is not readable JSON ({err}; truncated?)") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else type(meta).__name__
        raise CheckpointError(json_path, f"unknown checkpoint format {found!r}")
    missing = [k for k in ("epoch", "tensors_file", "tensors_bytes", "optimizer", "state") if k not in meta]
    if missing:
        raise CheckpointError(json_path, f"its record lacks {', '.join(missing)}")
    return meta


def load_checkpoint(json_path: str | Path, model: nn.Module,
                    optimizer: torch.optim.Optimizer | None = None,
                    average: nn.Module | None = None) -> dict[str, Any]:
    """Load weights (and optimizer state) in place; returns the JSON metadata.

    Tensors are read with safetensors onto the CPU and copied into the existing parameters,
    which already live on the right device; nothing is unpickled.
    """
    json_path = Path(json_path)
    meta = read_checkpoint_meta(json_path)
    tensors_path = json_path.with_name(meta["tensors_file"])
    if not tensors_path.is_file():
        raise CheckpointError(tensors_path, "the tensors file is missing")
    if tensors_path.stat().st_size != meta["tensors_bytes"]:
        raise CheckpointError(tensors_path, "the tensors file has another size than its record says "
                              "(changed or truncated since it was written)")
    # Checkpoints written before checksums were recorded have none to verify.
    if "tensors_sha256" in meta and file_sha256(tensors_path) != meta["tensors_sha256"]:
        raise CheckpointError(tensors_path, "the tensors file's sha256 differs from the one recorded "
                              "when it was written (changed or corrupted since)")
    try:
        tensors = load_file(str(tensors_path), device="cpu")
    except (SafetensorError, OSError) as err:
        raise CheckpointError(tensors_path, f"not a safetensors file ({err}); nothing was unpickled") from None
    model_sd = {k.removeprefix("model/"): v for k, v in tensors.items() if k.startswith("model/")}
    model.load_state_dict(model_sd, strict=True)
    if optimizer is not None:
        _load_optimizer(optimizer, meta["optimizer"], tensors, json_path)
    if average is not None:
        saved = {k.removeprefix("average/"): v for k, v in tensors.items() if k.startswith("average/")}
        if not saved:
            raise ResumeMismatch(f"{json_path}: the run now keeps a weight average, but this checkpoint "
                                 "has none (was weight_average added since?). Use a new run_dir.")
        average.load_state_dict(saved, strict=True)
    return meta


def _load_optimizer(optimizer: torch.optim.Optimizer, saved: dict, tensors: dict,
                    source: Path) -> None:
    fresh = optimizer.state_dict()
    saved_groups = saved["param_groups"]
    if [len(g["params"]) for g in saved_groups] != [len(g["params"]) for g in fresh["param_groups"]]:
        raise ResumeMismatch(f"{source}: the optimizer's parameter groups differ from the "
                             "model's; was the model architecture changed? Use a new run_dir.")
    groups = []
    for fresh_group, saved_group in zip(fresh["param_groups"], saved_groups):
        group = dict(fresh_group)
        for key, value in saved_group.items():
            # JSON turned tuples (AdamW betas) into lists; give them back their type.
            group[key] = tuple(value) if isinstance(fresh_group.get(key), tuple) else value
        groups.append(group)
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optimizer/"):
            _, index, key = name.split("/", 2)
            state.setdefault(int(index), {})[key] = value
    for index, entries in saved["scalar_state"].items():
        state.setdefault(int(index), {}).update(entries)
    optimizer.load_state_dict({"state": state, "param_groups": groups})
    _match_param_strides(optimizer)


def _match_param_strides(optimizer: torch.optim.Optimizer) -> None:
    """Give each loaded moment buffer its parameter's memory layout. Safetensors stores tensors
    contiguous, but a channels-last conv weight is not, and CUDA's fused AdamW refuses buffers whose
    strides differ from their parameter's ("must have same dtype, device, and layout")."""
    for group in optimizer.param_groups:
        for param in group["params"]:
            for key, value in optimizer.state.get(param, {}).items():
                if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                    optimizer.state[param][key] = torch.empty_like(param, dtype=value.dtype).copy_(value)
