"""Semantic and instance segmentation with noisy masks (readers, models, ADELE, multi-annotator
masks, detection). Heavy libraries (segmentation_models_pytorch, torchvision detection) are
imported only inside :mod:`.models` and :mod:`.instance`."""

from labelnoise.tasks.segmentation.bsds import BSDSItem, read_bsds500, read_bsds_mat
from labelnoise.tasks.segmentation.readers import read_mask_folder, read_pairs

__all__ = ["BSDSItem", "read_bsds500", "read_bsds_mat", "read_mask_folder", "read_pairs"]
