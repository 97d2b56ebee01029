"""Model sources: Hugging Face ids, local paths, the embedded default and tiny test models."""
