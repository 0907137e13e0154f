"""Looking inside a trained ViT (Part III, chapter 6): attention maps and rollout, mean attention
distance, position-embedding similarity, patch-filter principal components, the translation test,
and the arrays of all of them that a run saves (`vitcourse.lab.arrays` stores and validates them)."""

from .attention import attention_rollout, attention_stack, cls_attention_maps, rollout_cls_map
from .distance import (attention_distances, mean_attention_distance, mean_pairwise_distance,
                       patch_centres, patch_distances)
from .embeddings import cosine_similarity_matrix, patch_filters, position_table, principal_components
from .record import FILENAME, VIT_SCHEMA, fixed_test_images, inspection_arrays
from .translation import DIRECTIONS, predict_uint8, shift_images, translation_test

__all__ = [
    "attention_rollout", "attention_stack",
    "cls_attention_maps", "rollout_cls_map", "attention_distances", "mean_attention_distance",
    "mean_pairwise_distance", "patch_centres", "patch_distances", "cosine_similarity_matrix",
    "patch_filters", "position_table", "principal_components", "FILENAME", "VIT_SCHEMA",
    "fixed_test_images", "inspection_arrays", "DIRECTIONS", "predict_uint8",
    "shift_images", "translation_test",
]
