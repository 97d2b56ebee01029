"""Merging experts (layer swapping, revert-after-training, standard merges) on top of mergekit."""
