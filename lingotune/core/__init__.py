"""The bottom layer: errors, paths, progress, run-folder layout, run record, recipe YAML helpers."""
