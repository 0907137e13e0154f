"""Figure helpers for the book: consistent matplotlib figures the notebooks call."""

from .images import plot_patch_grid, plot_patch_sequence, plot_position_similarity, sample_photo

__all__ = ["sample_photo", "plot_patch_grid", "plot_patch_sequence", "plot_position_similarity"]
