"""Looking inside a trained ViT (Part III, chapter 6): attention maps and rollout, mean attention
distance, position-embedding similarity, patch-filter principal components, the translation test,
and validated .npz storage for all of them."""

from .arrays import check_arrays, load_arrays, load_run_arrays, save_arrays
from .attention import attention_rollout, attention_stack, cls_attention_maps, rollout_cls_map
from .distance import (attention_distances, mean_attention_distance, mean_pairwise_distance,
                       patch_centres, patch_distances)
from .embeddings import cosine_similarity_matrix, patch_filters, position_table, principal_components
from .record import FILENAME, VIT_SCHEMA, fixed_test_images, inspection_arrays, read_inspection
from .translation import DIRECTIONS, predict_uint8, shift_images, translation_test

__all__ = [
    "check_arrays", "load_arrays", "load_run_arrays", "save_arrays", "attention_rollout", "attention_stack",
    "cls_attention_maps", "rollout_cls_map", "attention_distances", "mean_attention_distance",
    "mean_pairwise_distance", "patch_centres", "patch_distances", "cosine_similarity_matrix",
    "patch_filters", "position_table", "principal_components", "FILENAME", "VIT_SCHEMA",
    "fixed_test_images", "inspection_arrays", "read_inspection", "DIRECTIONS", "predict_uint8",
    "shift_images", "translation_test",
]
