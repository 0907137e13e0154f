"""Figure helpers for the book: consistent matplotlib figures the notebooks call."""

from .images import plot_patch_grid, plot_patch_sequence, plot_position_similarity, sample_photo
from .results import caption, plot_accuracy_vs_time, plot_final_bars, plot_learning_curves

__all__ = ["sample_photo", "plot_patch_grid", "plot_patch_sequence", "plot_position_similarity",
           "plot_learning_curves", "plot_final_bars", "plot_accuracy_vs_time", "caption"]
