"""Distillation tasks of Part III's chapter 7: train a student against a finished teacher
experiment's model.

- "distill": soft (Hinton) or hard (DeiT) distillation loss; after training save distill.npz
  (student vs teacher) and, with `measure`, chapter 7's compression and speed arrays (light.npz).
- "deit_distill": the same with DeiT's distillation token (`vitcourse.light.DistilledViT`).

With run.dataset None (`load_trained_model`, the Part III table) the tasks only rebuild the
module, so no teacher is loaded or trained.
"""

from __future__ import annotations

from vitcourse.light import record
from vitcourse.light.deit import distilled_from
from vitcourse.light.distill import check_options, distillation_objective

from ..arrays import save_arrays
from .setup import TaskRun, TaskSetup


def _distill_setup(student, run: TaskRun, teacher, kind, alpha, tau, label_smoothing, eval_images, measure):
    check_options(kind, alpha, tau)
    if run.dataset is None:  # rebuilding the module only
        return TaskSetup(student)
    # Checkpoints stay out of git: a "finished" teacher without weights is trained again.
    teacher_model = run.trained(teacher, run.profile, run.seed, device=run.device,
                                retrain_lost_weights=True).to(run.device)

    def after_fit(trained, data, run_dir):
        save_arrays(run_dir / record.DISTILL_FILENAME,
                    **record.distill_arrays(trained, teacher_model, data, eval_images))
        if measure is not None:
            save_arrays(run_dir / record.FILENAME, **record.compression_arrays(trained, data, **measure))
    objective = distillation_objective(teacher_model, kind, alpha, tau, label_smoothing)
    return TaskSetup(student, objective=objective, after_fit=after_fit)


def distill(model, run: TaskRun, *, teacher: str, kind: str = "soft", alpha: float = 0.5, tau: float = 4.0,
            label_smoothing: float = 0.0, eval_images: int = 2000, measure: dict | None = None) -> TaskSetup:
    return _distill_setup(model, run, teacher, kind, alpha, tau, label_smoothing, eval_images, measure)


def deit_distill(model, run: TaskRun, *, teacher: str, kind: str = "hard", alpha: float = 0.5, tau: float = 1.0,
                 label_smoothing: float = 0.0, eval_images: int = 2000, measure: dict | None = None) -> TaskSetup:
    return _distill_setup(distilled_from(model), run, teacher, kind, alpha, tau, label_smoothing, eval_images,
                          measure)
