"""Figure helpers for the book: consistent matplotlib figures the notebooks call."""

from .attention import cls_attention, overlay_attention, plot_attention_grid, plot_cls_attention, plot_image_grid
from .images import plot_patch_grid, plot_patch_sequence, plot_position_similarity, sample_photo
from .results import caption, plot_accuracy_vs_time, plot_final_bars, plot_learning_curves

__all__ = ["cls_attention", "overlay_attention", "plot_attention_grid", "plot_cls_attention", "plot_image_grid", "sample_photo", "plot_patch_grid", "plot_patch_sequence", "plot_position_similarity",
           "plot_learning_curves", "plot_final_bars", "plot_accuracy_vs_time", "caption"]
