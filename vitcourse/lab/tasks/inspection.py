"""The "inspect" task of Part III's chapter 6: plain classification; after training, the arrays
the chapter plots (`vitcourse.interpret.record`) are saved as inspection.npz beside the run log."""

from __future__ import annotations

from vitcourse.interpret.record import FILENAME, inspection_arrays

from ..arrays import save_arrays
from .setup import TaskRun, TaskSetup


def inspect(model, run: TaskRun, per_class: int = 1, distance_images: int = 256, translation_images: int = 1000,
            pcs: int = 16, shift_mode: str = "reflect") -> TaskSetup:
    def after_fit(trained, data, run_dir):
        arrays = inspection_arrays(trained, data, per_class=per_class, distance_images=distance_images,
                                   translation_images=translation_images, pcs=pcs, shift_mode=shift_mode)
        save_arrays(run_dir / FILENAME, **arrays)
    return TaskSetup(model, after_fit=after_fit)
