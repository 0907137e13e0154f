"""The few trained weights the book analyses on a CPU, committed under data/weights/.

Checkpoints stay out of git (runs/), so a chapter that looks inside a trained model needs its
final weights committed: `export_weights` copies a finished run's model weights to
`data/weights/<experiment>-<profile>.safetensors` beside a JSON record that ties them to the run
log (its path, its sha256 and the weights' sha256). `analysed_model` rebuilds the model from that
run log's spec and loads the weights, after checking both checksums: the GPU-trained weights when
they exist, else the CPU-scale ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file

from vitcourse import REPO_ROOT
from vitcourse.atomic import write_json_atomic, write_safetensors_atomic
from vitcourse.atomic import file_sha256
from vitcourse.light.record import FILENAME as COMPRESSION_FILE
from vitcourse.light.record import compression_arrays

from . import paths
from .arrays import save_arrays
from .build import prepare_dataset
from .experiment import spec_differences
from .registry import get_experiment
from .runner import load_trained_model, task_module

PREFERENCE = ("full", "cpu")   # the GPU result when it exists, else the CPU-scale one


def weights_root() -> Path:
    return paths.data_root() / "weights"


def _files(name: str, profile: str, root: Path | None = None) -> tuple[Path, Path]:
    stem = (root or weights_root()) / f"{name}-{profile}"
    return stem.with_suffix(".safetensors"), stem.with_suffix(".json")


def export_weights(name: str, profile: str, seed: int = 0, dtype: torch.dtype = torch.float32,
                   root: Path | None = None) -> Path:
    """Copy the final weights of a finished run into data/weights/ (or `root`); returns the record's
    path. GPU runs pass dtype=torch.bfloat16 to halve the file."""
    model = load_trained_model(name, profile, seed)
    log_path = paths.run_dir(name, profile, seed) / "run.json"
    log = json.loads(log_path.read_text())
    tensors_path, record_path = _files(name, profile, root)
    tensors_path.parent.mkdir(parents=True, exist_ok=True)
    write_safetensors_atomic(tensors_path, {k: v.to(dtype) for k, v in model.state_dict().items()})
    try:
        run_log = log_path.relative_to(REPO_ROOT)
    except ValueError:
        run_log = log_path
    write_json_atomic(record_path, {
        "experiment": name, "profile": profile, "seed": seed, "dtype": str(dtype).removeprefix("torch."),
        "run_log": str(run_log), "run_log_sha256": file_sha256(log_path),
        "weights": tensors_path.name, "weights_sha256": file_sha256(tensors_path),
        "commit": (log.get("git") or {}).get("commit"), "test_acc": log["epochs"][-1]["test_acc"],
        "command": log.get("command"),
    })
    return record_path


def weights_record(name: str) -> dict | None:
    """The record of the best committed weights of `name` (full, else cpu), or None."""
    for profile in PREFERENCE:
        _, record_path = _files(name, profile)
        if record_path.is_file():
            return json.loads(record_path.read_text())
    return None


def analysed_model(name: str) -> tuple[torch.nn.Module, dict]:
    """(model in eval mode on the CPU, its weights record) from the committed weights of `name`."""
    record = weights_record(name)
    if record is None:
        raise FileNotFoundError(
            f"no committed weights for {name!r} under {weights_root()}: train it with `python -m "
            f"vitcourse run {name} --profile cpu`, then export them with "
            f"vitcourse.lab.weights.export_weights({name!r}, 'cpu').")
    tensors_path, _ = _files(name, record["profile"])
    log_path = REPO_ROOT / record["run_log"]
    for path, expected in ((tensors_path, record["weights_sha256"]), (log_path, record["run_log_sha256"])):
        if not path.is_file() or file_sha256(path) != expected:
            raise ValueError(f"{path} does not match its record {tensors_path.with_suffix('.json')} "
                             f"(missing or changed since export): restore it from git, or export the "
                             f"weights again from the run that made them.")
    log = json.loads(log_path.read_text())
    spec, dataset = log["spec"], log["dataset"]
    if spec_differences(spec, get_experiment(name).profile(record["profile"])):
        raise ValueError(f"the committed weights of {name!r} were trained with an older spec than its "
                         f"{record['profile']!r} profile has now: run it again and export the weights.")
    model = task_module(spec, len(dataset["classes"]), tuple(dataset["image_shape"]), record["profile"],
                        record["seed"])
    tensors = load_file(str(tensors_path), device="cpu")
    model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
    return model.eval(), record


def measure_compression(name: str, eval_images: int = 2000, latency_repeats: int = 20) -> Path:
    """Head pruning and int8 quantisation of the committed model `name`, measured on this CPU and
    saved as light.npz beside its run log (what the lightweight chapter plots for the Part II model).
    python -c "from vitcourse.lab.weights import measure_compression as m; m('first_run')"
    """
    model, record = analysed_model(name)
    dataset = prepare_dataset(get_experiment(name).profile(record["profile"])["data"])
    arrays = compression_arrays(model, dataset, eval_images=eval_images, latency_repeats=latency_repeats,
                                speed=False)
    return save_arrays(paths.run_dir(name, record["profile"], record["seed"]) / COMPRESSION_FILE, **arrays)
