"""Tasks of Part III, chapters 6 and 7: inspect a trained model, distil a teacher into a ViT.

- "inspect": plain classification; after training, save the arrays chapter 6 plots
  (vitcourse.interpret.record) as inspection.npz in the run directory.
- "distill": train the student against a finished teacher experiment's model, with the soft
  (Hinton) or hard (DeiT) distillation loss; after training save distill.npz (student vs teacher)
  and, with `measure`, the compression and speed arrays of chapter 7 (light.npz).
- "deit_distill": the same with DeiT's distillation token (vitcourse.light.DistilledViT).

With dataset=None (load_trained_model, the Part III table) the tasks only rebuild the module,
so no teacher is loaded or trained. The heavy imports happen inside the functions: this module is
imported while vitcourse.experiments itself is still initialising.
"""

from __future__ import annotations

import contextlib
import os

from . import paths
from .registry import get_experiment
from .tasks import TaskSetup, register_task


@register_task("inspect")
def inspect_task(model, dataset=None, profile="smoke", seed=0, device="cpu", per_class: int = 1,
                 distance_images: int = 256, translation_images: int = 1000, pcs: int = 16,
                 shift_mode: str = "reflect"):
    def after_fit(trained, data, run_dir):
        from vitcourse.interpret.arrays import save_arrays
        from vitcourse.interpret.record import FILENAME, inspection_arrays

        arrays = inspection_arrays(trained, data, per_class=per_class, distance_images=distance_images,
                                   translation_images=translation_images, pcs=pcs, shift_mode=shift_mode)
        save_arrays(run_dir / FILENAME, **arrays)
    return TaskSetup(model, after_fit=after_fit)


@contextlib.contextmanager
def _results_elsewhere(root):
    """Point the full-profile results at `root` for a while (checkpoints stay where they are)."""
    old = os.environ.get("VITCOURSE_RESULTS")
    os.environ["VITCOURSE_RESULTS"] = str(root)
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("VITCOURSE_RESULTS", None)
        else:
            os.environ["VITCOURSE_RESULTS"] = old


def ensure_teacher(name: str, profile: str, seed: int, device="cpu"):
    """The teacher experiment's trained model (CPU), training it first when needed.

    Run logs are committed but checkpoints are not, so on a fresh GPU machine a teacher can be
    "finished" without weights; then it is retrained with the same command and seed into a
    scratch results folder, which puts its checkpoint where load_trained_model looks.
    """
    from .results import is_finished
    from .runner import load_trained_model, refuse_stale, run_experiment

    seeds = get_experiment(name).seeds_for(profile)
    seed = seed if seed in seeds else seeds[0]
    refuse_stale(name, profile, seed)   # never distil from an older spec's teacher
    if not is_finished(name, profile, seed):
        run_experiment(name, profile, seed, device=device, progress=False)
    try:
        return load_trained_model(name, profile, seed)
    except FileNotFoundError:
        if profile != "full":
            raise
    with _results_elsewhere(paths.runs_root() / "teacher-rebuild"):
        run_experiment(name, profile, seed, device=device, progress=False)
    return load_trained_model(name, profile, seed)


def _distill_setup(student, dataset, profile, seed, device, teacher, kind, alpha, tau, label_smoothing,
                   eval_images, measure):
    from vitcourse.light.distill import check_options, distillation_objective

    check_options(kind, alpha, tau)
    if dataset is None:  # rebuilding the module only
        return TaskSetup(student)
    teacher_model = ensure_teacher(teacher, profile, seed, device).to(device)

    def after_fit(trained, data, run_dir):
        from vitcourse.interpret.arrays import save_arrays
        from vitcourse.light import record

        save_arrays(run_dir / record.DISTILL_FILENAME,
                    **record.distill_arrays(trained, teacher_model, data, eval_images))
        if measure is not None:
            save_arrays(run_dir / record.FILENAME, **record.compression_arrays(trained, data, **measure))
    objective = distillation_objective(teacher_model, kind, alpha, tau, label_smoothing)
    return TaskSetup(student, objective=objective, after_fit=after_fit)


@register_task("distill")
def distill_task(model, dataset=None, profile="smoke", seed=0, device="cpu", *, teacher: str,
                 kind: str = "soft", alpha: float = 0.5, tau: float = 4.0, label_smoothing: float = 0.0,
                 eval_images: int = 2000, measure: dict | None = None):
    return _distill_setup(model, dataset, profile, seed, device, teacher, kind, alpha, tau,
                          label_smoothing, eval_images, measure)


@register_task("deit_distill")
def deit_distill_task(model, dataset=None, profile="smoke", seed=0, device="cpu", *, teacher: str,
                      kind: str = "hard", alpha: float = 0.5, tau: float = 1.0, label_smoothing: float = 0.0,
                      eval_images: int = 2000, measure: dict | None = None):
    from vitcourse.light.deit import distilled_from

    return _distill_setup(distilled_from(model), dataset, profile, seed, device, teacher, kind, alpha, tau,
                          label_smoothing, eval_images, measure)
