"""Trained weights shipped with gensci (NAME.safetensors + NAME.json manifests); see gensci.workflows.shipped."""
